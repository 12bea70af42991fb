//! The command line: server-side commands that act on the data dir.

pub mod admin;
pub mod client;
pub mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A safe, explicit way in for AI agents: auth API, dashboard and CLI in one binary.",
    after_help = "Exit codes: 0 success; 1 the command failed or the server refused it (its message and what to do next on stderr); 2 bad usage, configuration or missing login; 3 the server could not be reached."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Address and port to listen on [env: LATCHKEY_BIND] [default: 127.0.0.1:8080]
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Directory holding the database and signing keys [env: LATCHKEY_DATA_DIR] [default: ./latchkey-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The URL people and agents reach this server at (issuer, default audience) [env: LATCHKEY_PUBLIC_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub public_url: Option<String>,
    /// PostgreSQL instead of the embedded SQLite file, e.g. postgres://latchkey@db/latchkey [env: LATCHKEY_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            bind: self.bind.clone(),
            data_dir: self.data_dir.clone(),
            public_url: self.public_url.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy this SQLite instance into an empty PostgreSQL database (stop the server for the final copy).
    Copy {
        /// The target, e.g. postgres://latchkey@db.internal/latchkey
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API and dashboard).
    Serve,
    /// Apply pending database migrations and exit (every command migrates by itself).
    Migrate,
    /// Write a consistent copy of the database to FILE; safe while `serve` runs.
    Backup {
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Move this instance's database (`db copy --to postgres://…`).
    #[command(subcommand)]
    Db(DbCommand),
    /// Headless provisioning for Ansible, cloud-init or CI.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The server's JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Store a PAT for this machine: read from a hidden prompt (stdin when not a terminal), checked, kept 0600.
    Login {
        #[arg(long)]
        url: String,
        #[arg(long, value_name = "ID")]
        workspace_id: Option<String>,
    },
    /// Who the active credential is.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Mint agent tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Named agent profiles made by `token mint --profile`.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Agent-side credentials: enrollment, access tokens, signed sessions.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// A signed request over the agent's key-bound session (started or refreshed as needed); prints the body.
    Request {
        method: String,
        path: String,
        /// The JSON body, or @FILE to read it from a file.
        #[arg(long, value_name = "JSON|@FILE")]
        data: Option<String>,
        /// When the checkout waits for a person (202), wait for the
        /// decision and print the checkout.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Show the server's whoami for the active credential.
    Whoami {
        /// The server's JSON, as is.
        #[arg(long)]
        json: bool,
    },
}

/// The terms of a new PAT, the same for `token mint` and `admin mint-pat`.
#[derive(Debug, Args)]
pub struct PatTerms {
    #[arg(long, value_enum, default_value = "both")]
    pub audience: AudienceArg,
    /// Days until it expires (1 to 365).
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub expires: i64,
    /// Daily spend cap in USD for an agent PAT, like 10.00.
    #[arg(long, value_name = "USD")]
    pub cap: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an agent PAT for the agent NAME (using a host login).
    Mint {
        name: String,
        /// Create the agent if it does not exist.
        #[arg(long)]
        create: bool,
        #[command(flatten)]
        terms: PatTerms,
        /// Write the token to DIR/token (mode 0600).
        #[arg(long, value_name = "DIR")]
        save_to: Option<std::path::PathBuf>,
        /// Save a profile NAME (url, workspace, agent, token file, fingerprint).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Never print the token (it goes only to the file).
        #[arg(long)]
        no_print_token: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List saved profiles.
    List,
    /// Check a profile: file present and 0600, fingerprint matches, token bound to the profile's agent.
    Verify { name: String },
    /// Print `export` lines to eval; on any failure print `unset` lines and exit non-zero.
    Env { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Make an ES256 key, register it with a one-time bootstrap secret, keep it (0600).
    Enroll {
        #[arg(long, value_name = "SECRET")]
        bootstrap_secret: String,
        /// The server (default: LATCHKEY_URL, then the stored login).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Sign a fresh client assertion and print an access token.
    Token,
    /// Start a key-bound runtime session with the active agent PAT (kept 0600 until it expires).
    Session,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key; the old one stays published until its tokens expire.
    /// A running server picks the new key up on SIGHUP or restart.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first owner and a default workspace; prints the workspace id.
    CreateOwner {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Create a further workspace (tenant) owned by EMAIL, creating that user if new; prints the workspace id.
    CreateWorkspace {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        /// Read the new owner's password from standard input (needed when the email is new).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn Agent Security Mode on or off (off suspends every agent credential, without asking).
    SecurityMode {
        state: OnOff,
        /// Workspace id; may be left out when there is only one.
        #[arg(long, value_name = "ID")]
        workspace: Option<String>,
    },
    /// Mint a PAT for a member of the workspace; prints only the token.
    MintPat {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// The agent an agent PAT is for; created if it does not exist.
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        #[command(flatten)]
        terms: PatTerms,
        #[arg(long, value_name = "ID")]
        workspace: Option<String>,
    },
    /// Set a user's password and end their dashboard sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Invite someone to a workspace: prints a one-time link (7 days).
    Invite {
        #[arg(long)]
        email: String,
        /// owner or member.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Remove a member from a workspace (their tokens stop at once).
    RemoveMember {
        #[arg(long)]
        email: String,
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Host,
    Agent,
    Service,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AudienceArg {
    Api,
    Exchange,
    Both,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// How a command failed, and so which exit code it ends with.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage or configuration: exit 2.
    Usage(String),
    /// The command could not do its work: exit 1.
    Failed(String),
    /// The server refused: exit 1, with its message and recovery hint.
    Refused(String),
    /// The server could not be reached: exit 3.
    Unreachable(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) | CliError::Refused(_) => 1,
            CliError::Unreachable(_) => 3,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Refused(m) | CliError::Unreachable(m) => m,
        }
    }
}

/// The commands that talk to a server over HTTP: the server's own flags
/// (`--bind`, `--data-dir`, …) mean nothing to them.
const CLIENT_COMMANDS: &[&str] = &["login", "auth", "token", "profile", "agent", "request"];

impl Cli {
    /// Parses the command line. The server's flags stay global (so
    /// `latchkey --data-dir D admin …` and `latchkey admin … --data-dir D`
    /// both work), but client commands neither list nor take them: each
    /// gets a hidden, non-global stand-in, which keeps clap from copying
    /// the global one into its help.
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        for name in CLIENT_COMMANDS {
            command = command.mut_subcommand(*name, |sub| {
                [
                    ("bind", "bind"),
                    ("data_dir", "data-dir"),
                    ("public_url", "public-url"),
                    ("database_url", "database-url"),
                ]
                .into_iter()
                .fold(sub, |sub, (id, long)| {
                    sub.arg(clap::Arg::new(id).long(long).hide(true).action(clap::ArgAction::Set))
                })
            });
        }
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let overrides = cli.global.overrides();
    match cli.command {
        Command::Serve => serve::run(overrides),
        Command::Migrate => admin::migrate(overrides),
        Command::Backup { to } => admin::backup(overrides, &to),
        Command::Db(DbCommand::Copy { to }) => admin::db_copy(overrides, &to),
        Command::Admin(cmd) => admin::run(overrides, cmd),
        Command::Keys(KeysCommand::Rotate) => admin::rotate_keys(overrides),
        Command::Login { url, workspace_id } => client::login(&url, workspace_id),
        Command::Auth(AuthCommand::Whoami { json }) => client::whoami(json),
        Command::Token(TokenCommand::Mint {
            name,
            create,
            terms: PatTerms { audience, expires, cap },
            save_to,
            profile,
            no_print_token,
        }) => client::mint(client::MintArgs { name, create, audience, expires, cap, save_to, profile, no_print_token }),
        Command::Profile(ProfileCommand::List) => client::profile::list(),
        Command::Profile(ProfileCommand::Verify { name }) => client::profile::verify(&name),
        Command::Profile(ProfileCommand::Env { name }) => client::profile::env(&name),
        Command::Agent(AgentCommand::Enroll { bootstrap_secret, url }) => {
            client::agent::enroll(&bootstrap_secret, url.as_deref())
        }
        Command::Agent(AgentCommand::Token) => client::agent::token(),
        Command::Agent(AgentCommand::Session) => client::agent::session(),
        Command::Request { method, path, data, wait } => client::agent::request(&method, &path, data.as_deref(), wait),
    }
}

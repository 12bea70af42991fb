//! The one storage API the rest of the code speaks: a [`Connection`],
//! statements with `?N` parameters, [`Row`]s read by column index. Modules
//! under `db` write portable SQL against it and never see which database
//! runs underneath.

use std::fmt;

mod values;
pub use values::{FromColumn, Param, Params};

/// A value bound to a statement or read from a row. Booleans are stored as
/// the integers 0 and 1, timestamps as Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What went wrong in the database layer.
#[derive(Debug)]
pub enum Error {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// `query_row` found no row.
    NoRows,
    /// A column held something its Rust type cannot take.
    Conversion {
        column: usize,
        reason: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A UNIQUE, CHECK or FOREIGN KEY constraint refused the write.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.code == rusqlite::ErrorCode::ConstraintViolation,
            // Class 23: integrity constraint violation.
            Error::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }

    /// The server went away (or never answered): not the query's fault.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Postgres(e) => {
                let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
                let code = e.as_db_error().map(|db| db.code().code()).unwrap_or("");
                e.is_closed() || io || code.starts_with("08") || code.starts_with("57P")
            }
            _ => false,
        }
    }

    pub fn conversion(column: usize, reason: impl fmt::Display) -> Error {
        Error::Conversion { column, reason: reason.to_string() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "{e}"),
            Error::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => write!(f, "{e}"),
            },
            Error::NoRows => f.write_str("no row"),
            Error::Conversion { column, reason } => write!(f, "column {column}: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            e => Error::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

/// `Ok(None)` for "no row".
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One row of a result.
pub struct Row<'a> {
    inner: RowInner<'a>,
}

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as `T`.
    pub fn get<T: FromColumn>(&self, index: usize) -> Result<T> {
        let value = match self.inner {
            RowInner::Sqlite(row) => match row.get_ref(index)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::Text(std::str::from_utf8(t).map_err(|e| Error::conversion(index, e))?)
                }
                rusqlite::types::ValueRef::Blob(b) => Value::Blob(b),
            },
            RowInner::Postgres(row) => row.try_get::<_, Value<'_>>(index)?,
        };
        T::from_value(value).map_err(|reason| Error::Conversion { column: index, reason })
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(f) => ValueRef::Real(f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A database connection: the embedded SQLite file, or a PostgreSQL
/// server.
pub struct Connection {
    backend: Backend,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<std::cell::RefCell<super::pg::Handle>>),
}

impl Connection {
    pub(crate) fn from_sqlite(sqlite: rusqlite::Connection) -> Connection {
        Connection { backend: Backend::Sqlite(sqlite) }
    }

    pub(crate) fn from_postgres(handle: super::pg::Handle) -> Connection {
        Connection { backend: Backend::Postgres(Box::new(std::cell::RefCell::new(handle))) }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Whether the connection can still be used (a PostgreSQL connection
    /// closes when the server goes away).
    pub(crate) fn is_broken(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            Backend::Postgres(s) => s.borrow().is_closed(),
        }
    }

    /// Runs one statement; the rows changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.statement(sql, false).execute(params)
    }

    /// The first row of a query, or [`Error::NoRows`].
    pub fn query_row<T, P: Params>(&self, sql: &str, params: P, f: impl FnOnce(&Row<'_>) -> Result<T>) -> Result<T> {
        self.statement(sql, false).query_row(params, f)
    }

    /// Statements without parameters (transaction control, DDL).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(s) => s.borrow_mut().batch(sql),
        }
    }

    /// Whether no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(c) => c.is_autocommit(),
            Backend::Postgres(s) => !s.borrow().in_transaction(),
        }
    }

    /// A statement compiled once per connection and kept.
    pub fn prepare_cached<'c>(&'c self, sql: &'c str) -> Result<Statement<'c>> {
        Ok(self.statement(sql, true))
    }

    fn statement<'c>(&'c self, sql: &'c str, cached: bool) -> Statement<'c> {
        Statement { conn: self, sql, cached }
    }
}

/// A statement of a [`Connection`], run with [`Statement::execute`],
/// [`Statement::query_row`] or [`Statement::query_map`].
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: &'c str,
    cached: bool,
}

impl Statement<'_> {
    /// Compiles (or takes from the cache) and binds every parameter, without
    /// collecting them first: a hot read binds one or two values.
    fn with_sqlite<T, P: Params>(
        &self,
        conn: &rusqlite::Connection,
        params: P,
        f: impl FnOnce(&mut rusqlite::Statement<'_>) -> Result<T>,
    ) -> Result<T> {
        let bind = |stmt: &mut rusqlite::Statement<'_>| -> Result<()> {
            let mut n = 0;
            params.each(&mut |value| {
                n += 1;
                Ok(stmt.raw_bind_parameter(n, value)?)
            })?;
            let expected = stmt.parameter_count();
            if n != expected {
                return Err(Error::Sqlite(rusqlite::Error::InvalidParameterCount(n, expected)));
            }
            Ok(())
        };
        if self.cached {
            let mut stmt = conn.prepare_cached(self.sql)?;
            bind(&mut stmt)?;
            f(&mut stmt)
        } else {
            let mut stmt = conn.prepare(self.sql)?;
            bind(&mut stmt)?;
            f(&mut stmt)
        }
    }

    fn postgres_values<P: Params>(params: &P) -> Result<Vec<Value<'_>>> {
        let mut values = Vec::new();
        params.each(&mut |v| {
            values.push(v);
            Ok(())
        })?;
        Ok(values)
    }

    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        match &self.conn.backend {
            Backend::Sqlite(c) => self.with_sqlite(c, params, |stmt| Ok(stmt.raw_execute()?)),
            Backend::Postgres(s) => {
                let values = Self::postgres_values(&params)?;
                s.borrow_mut().execute(self.sql, &values)
            }
        }
    }

    pub fn query_row<T, P: Params>(&mut self, params: P, f: impl FnOnce(&Row<'_>) -> Result<T>) -> Result<T> {
        match &self.conn.backend {
            Backend::Sqlite(c) => self.with_sqlite(c, params, |stmt| {
                let mut rows = stmt.raw_query();
                match rows.next()? {
                    Some(row) => f(&Row { inner: RowInner::Sqlite(row) }),
                    None => Err(Error::NoRows),
                }
            }),
            Backend::Postgres(s) => {
                let values = Self::postgres_values(&params)?;
                let rows = s.borrow_mut().query(self.sql, &values)?;
                match rows.first() {
                    Some(row) => f(&Row { inner: RowInner::Postgres(row) }),
                    None => Err(Error::NoRows),
                }
            }
        }
    }

    /// Every row, mapped by `f`.
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        match &self.conn.backend {
            Backend::Sqlite(c) => self.with_sqlite(c, params, |stmt| {
                let mut rows = stmt.raw_query();
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row { inner: RowInner::Sqlite(row) }));
                }
                Ok(out.into_iter())
            }),
            Backend::Postgres(s) => {
                let values = Self::postgres_values(&params)?;
                let rows = s.borrow_mut().query(self.sql, &values)?;
                Ok(rows.iter().map(|row| f(&Row { inner: RowInner::Postgres(row) })).collect::<Vec<_>>().into_iter())
            }
        }
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        self.query_row(params, |_| Ok(())).optional().map(|r| r.is_some())
    }

    /// How often SQLite had to compile this statement again.
    #[cfg(test)]
    pub fn reprepared(&self) -> Result<i32> {
        match &self.conn.backend {
            Backend::Sqlite(c) => Ok(c.prepare_cached(self.sql)?.get_status(rusqlite::StatementStatus::RePrepare)),
            Backend::Postgres(_) => Ok(0),
        }
    }
}

impl postgres::types::ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> postgres::types::FromSql<'a> for Value<'a> {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(raw),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(<&str>::from_sql(ty, raw)?)
            }
            _ => return Err(format!("a {ty} column cannot be read (cast it to BIGINT or TEXT)").into()),
        })
    }

    fn from_sql_null(_: &postgres::types::Type) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// A storage failure as the request sees it: unreachable is retryable
/// (503), anything else is internal (500).
impl From<Error> for crate::error::AppError {
    fn from(e: Error) -> Self {
        if e.is_unreachable() {
            return crate::error::AppError::Unavailable(format!("database: {e}"));
        }
        crate::error::AppError::Internal(format!("database: {e}"))
    }
}

// Drives Latchkey's dashboard in a real Chromium (Debian's), as a host
// would: signs in, visits every page at a desktop and a phone width, and
// fails on anything a person would trip over.
//
//   node dashboard.mjs --url http://127.0.0.1:PORT --email E --password P \
//        [--chromium /usr/bin/chromium] [--screenshots DIR]
//
// Per page and width: the page answers 200; no console error (a blocked
// inline script or style shows up here as a CSP violation); no request
// fails (a missing favicon or stylesheet); nothing is wider than the window;
// axe-core finds no WCAG 2 A/AA violation. Then the flows: an agent form
// with a bad name keeps what was typed and names the field; a new token is
// shown once and a reload neither shows nor mints it again; Copy works over
// plain http. Exit status 0 when everything held; every failure printed.
import { readFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

const base = arg("url").replace(/\/$/, "");
const email = arg("email");
const password = arg("password");
const executablePath = arg("chromium", "/usr/bin/chromium");
const shots = arg("screenshots", "");
if (shots) {
  // Only this run's pictures.
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
}

const WIDTHS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 390, height: 844 },
  // The same pages in the dark scheme (the CSS follows the system's).
  { name: "dark", width: 1280, height: 900, dark: true },
];

const failures = [];
const fail = (where, what) => failures.push(`${where}: ${what}`);
// A flow that throws (a missing element, a timeout) is one failure, and the
// next flow still runs.
async function flow(where, body) {
  try {
    await body(where);
  } catch (e) {
    fail(where, e.message.split("\n")[0]);
  }
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

try {
  const context = await browser.newContext({ viewport: WIDTHS[0], permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== "document") {
      problems.push(`${r.status()} for ${r.url()}`);
    }
  });

  // Sign in.
  await page.goto(`${base}/login`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);

  // Something on every list: an agent (with its show-once secret), a token.
  const agent = `browser-${Date.now() % 100000}`;
  await page.goto(`${base}/dashboard/agents`);
  await page.fill("#name", agent);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/dashboard/agents'] button[type=submit]")]);
  const agentUrl = await page
    .locator(`a:has-text("${agent}")`)
    .first()
    .getAttribute("href")
    .catch(() => null);
  await page.goto(`${base}/dashboard/agents`);
  const agentHref = agentUrl ?? (await page.locator(`a:has-text("${agent}")`).first().getAttribute("href"));

  const pages = [
    "/",
    "/dashboard/agents",
    agentHref,
    "/dashboard/tokens",
    "/dashboard/certificates",
    "/dashboard/resources",
    "/dashboard/audit",
    "/dashboard/audit?kind=agent.created",
    "/dashboard/members",
    "/dashboard/oauth-clients",
    "/settings",
  ];
  for (const path of pages) {
    for (const size of WIDTHS) {
      const where = `${path} at ${size.width} px${size.dark ? ", dark" : ""}`;
      problems.length = 0;
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.emulateMedia({ colorScheme: size.dark ? "dark" : "light" });
      const res = await page.goto(`${base}${path}`);
      if (res.status() !== 200) fail(where, `answered ${res.status()}`);
      await page.waitForLoadState("load");
      const overflow = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const wide = [];
        // Inside a box that scrolls sideways (a wide table), an element may
        // be wider than the window: the box is what must fit.
        const clipped = (el) => {
          for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            if (/(auto|scroll|hidden)/.test(getComputedStyle(a).overflowX)) return true;
          }
          return false;
        };
        for (const el of document.querySelectorAll("body *")) {
          const r = el.getBoundingClientRect();
          if (r.right > width + 1 && getComputedStyle(el).position !== "absolute" && !clipped(el)) {
            // Report the outermost offender only.
            if (!wide.some((w) => w.el.contains(el))) wide.push({ el, right: Math.round(r.right) });
          }
        }
        return {
          page: document.documentElement.scrollWidth > width + 1 ? document.documentElement.scrollWidth : 0,
          width,
          wide: wide.slice(0, 3).map((w) => `<${w.el.tagName.toLowerCase()} class="${w.el.className}"> to ${w.right}px`),
        };
      });
      if (overflow.page || overflow.wide.length) {
        fail(where, `wider than the ${overflow.width} px window: ${overflow.wide.join(", ") || overflow.page + " px"}`);
      }
      // Evaluated through the DevTools protocol, which the page's CSP does
      // not govern (an injected <script> would rightly be refused).
      await page.evaluate(AXE);
      const axe = await page.evaluate(async () => {
        const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
        return { violations: r.violations.map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0]?.target.join(" ")} — ${v.help}`) };
      });
      for (const v of axe.violations) fail(where, `axe ${v}`);
      for (const p of problems) fail(where, p);
      if (shots) {
        const name =
          path === "/" ? "overview" : path.replace(/^\/(dashboard\/)?/, "").replace(/agents\/.*/, "agent").replace(/[^a-z0-9]+/gi, "-");
        await page.screenshot({ path: `${shots}/${name}-${size.dark ? "dark" : size.width}.png`, fullPage: true });
      }
    }
  }
  await page.setViewportSize(WIDTHS[0]);
  await page.emulateMedia({ colorScheme: "light" });

  // A bad agent name: the form says which field and keeps the input.
  await flow("new agent with a bad name", async (where) => {
    await page.goto(`${base}/dashboard/agents`);
    await page.evaluate(() => {
      // Past the browser's own pattern check, as a script or an old browser would.
      document.querySelectorAll("form[action='/dashboard/agents'] input").forEach((i) => i.removeAttribute("pattern"));
    });
    await page.fill("#name", "no spaces allowed");
    await page.fill("#description", "kept after the error");
    const [res] = await Promise.all([
      page.waitForNavigation(),
      page.click("form[action='/dashboard/agents'] button[type=submit]"),
    ]);
    if (res.status() !== 400) fail(where, `answered ${res.status()}, not 400`);
    if ((await page.inputValue("#name").catch(() => "")) !== "no spaces allowed") fail(where, "the name was lost");
    if ((await page.inputValue("#description").catch(() => "")) !== "kept after the error") {
      fail(where, "the description was lost");
    }
    const described = await page.getAttribute("#name", "aria-describedby").catch(() => null);
    const message = described ? await page.textContent(`#${described}`) : null;
    if (!message || !/letters, digits/.test(message)) fail(where, `no error beside the name field (${message})`);
    if ((await page.getAttribute("#name", "aria-invalid").catch(() => null)) !== "true") {
      fail(where, "the name field is not marked aria-invalid");
    }
    if (!(await page.locator("nav").count())) fail(where, "the page lost its navigation");
  });

  // A new token: shown once, Copy works, a reload does not mint another.
  await flow("new token", async (where) => {
    await page.goto(`${base}/dashboard/tokens`);
    const before = await page.locator("table tbody tr").count();
    const form = page.locator("form[action='/dashboard/tokens']").first();
    await form.locator("input[name=name]").fill("browser token");
    await form.locator("select[name=scope_type]").selectOption("agent");
    await form.locator("input[name=agent_name]").fill(agent);
    await Promise.all([page.waitForNavigation(), form.locator("button[type=submit]").click()]);
    const value = await page.locator("input[readonly]").first().inputValue({ timeout: 5000 });
    if (!/^lk_/.test(value)) fail(where, `no token on the page after creating it (${value.slice(0, 12)})`);
    const copy = page.locator("button:has-text('Copy')").first();
    if (await copy.count()) {
      await copy.click();
      await page.locator("button:has-text('Copied')").first().waitFor({ timeout: 3000 })
        .catch(async () => fail(where, `Copy did not confirm (${await copy.textContent()})`));
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      if (copied !== value) fail(where, "Copy put something else on the clipboard");
    } else {
      fail(where, "no Copy button");
    }
    await page.reload();
    const again = await page.content();
    if (value && again.includes(value)) fail(where, "a reload showed the token again");
    await page.goto(`${base}/dashboard/tokens`);
    const after = await page.locator("table tbody tr").count();
    if (after !== before + 1) fail(where, `${after - before} tokens created by one submit and a reload`);
  });

  // Revoking asks first, then the token is revoked.
  await flow("revoke with confirmation", async (where) => {
    await page.goto(`${base}/dashboard/tokens`);
    await page.locator("a:has-text('browser token')").first().click();
    await page.waitForLoadState("load");
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/revoke'] button[type=submit]")]);
    if (!/revoke/i.test(await page.locator("h1").first().textContent())) fail(where, "no confirmation page");
    await Promise.all([page.waitForNavigation(), page.click("button:has-text('Yes, revoke it')")]);
    if (!(await page.locator(".revoked").count())) fail(where, "the token page does not say revoked");
  });

  // Without JavaScript the create flow works the same: the token is shown
  // once in a read-only field ready to select.
  await flow("new token without JavaScript", async (where) => {
    const plain = await browser.newContext({ viewport: WIDTHS[0], javaScriptEnabled: false });
    const p = await plain.newPage();
    await p.goto(`${base}/login`);
    await p.fill("input[name=email]", email);
    await p.fill("input[name=password]", password);
    await Promise.all([p.waitForURL((u) => !u.pathname.startsWith("/login")), p.click("button[type=submit]")]);
    await p.goto(`${base}/dashboard/tokens`);
    const form = p.locator("form[action='/dashboard/tokens']").first();
    await form.locator("input[name=name]").fill("no script token");
    await form.locator("input[name=agent_name]").fill(agent);
    await Promise.all([p.waitForNavigation(), form.locator("button[type=submit]").click()]);
    const value = await p.locator("input[readonly]").first().inputValue({ timeout: 5000 });
    if (!/^lk_/.test(value)) fail(where, "no token shown");
    await p.reload();
    if ((await p.content()).includes(value)) fail(where, "a reload showed it again");
    await plain.close();
  });

  // Event times read as "just now" / "5 min ago", the exact time on hover.
  await flow("relative times", async (where) => {
    await page.goto(`${base}/dashboard/audit`);
    const t = page.locator("time[data-relative]").first();
    const text = await t.textContent();
    const title = await t.getAttribute("title");
    if (!/^(just now|\d+ (min|hours?|days?) ago)$/.test(text ?? "")) fail(where, `reads "${text}"`);
    if (!/UTC$/.test(title ?? "")) fail(where, `no exact time in the tooltip ("${title}")`);
  });
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`${failures.length} problem(s):\n` + failures.map((f) => `  - ${f}`).join("\n"));
  process.exit(1);
}
console.log("dashboard: every page and flow held");

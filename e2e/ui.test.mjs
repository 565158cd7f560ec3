// Browser tests of the authz admin console, in headless Chromium (Debian's
// package) driven by playwright-core. Run by e2e/run.sh, which starts a
// fresh server and passes AUTHZ_URL, ADMIN_EMAIL and ADMIN_PASSWORD.
//
// The steps run in order and share one browser context (one session), as a
// person would: sign in, add a user, create a client for them, copy its
// secret and get a token with it, rotate, revoke, change the policy and the
// owner and watch the table change. Every step checks what is on the page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.AUTHZ_URL || "").replace(/\/$/, "");
const ADMIN_EMAIL = process.env.ADMIN_EMAIL;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const SHOTS = process.env.SCREENSHOT_DIR || path.join(import.meta.dirname ?? ".", "screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!BASE || !ADMIN_EMAIL || !ADMIN_PASSWORD) {
  throw new Error("AUTHZ_URL, ADMIN_EMAIL and ADMIN_PASSWORD must be set (use e2e/run.sh)");
}

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const DEV_EMAIL = "dev@example.com";
// The admin is an owner of two organizations (e2e/run.sh): the default one,
// where most steps happen, and acme with its project "api".
const ORG = "/admin/o/default";
const ACME = "/admin/o/acme";
const XSS_NAME = 'Nightly CI <script>window.__xss = 1</script>';
const SECRET_RE = /^azs_[0-9A-Za-z]{49}$/;

let browser, context, page;
const cspViolations = [];
const pageErrors = [];
// Shared between steps.
const state = {};

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // A fresh context: no cookies, no storage.
  context = await browser.newContext({ viewport: DESKTOP, baseURL: BASE });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  page = await context.newPage();
  // Generous: the tests wait on the page's own events (navigations,
  // elements), and a loaded machine may take seconds to deliver them.
  page.setDefaultTimeout(30_000);
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  page.on("pageerror", (err) => pageErrors.push(String(err)));
});

after(async () => {
  await browser?.close();
});

// --- helpers ---------------------------------------------------------------

async function shot(name, opts = {}) {
  for (const [label, size] of [["1280", DESKTOP], ["390", PHONE]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true, ...opts });
  }
  await page.setViewportSize(DESKTOP);
}

async function heading() {
  return (await page.locator("h1").first().textContent()).trim();
}

async function notice() {
  return (await page.locator(".notice").textContent()).trim();
}

// token asks the token endpoint for a token with client_secret_basic.
async function token(id, secret) {
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");
  const res = await fetch(`${BASE}/oauth2/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  return { status: res.status, body: await res.json() };
}

// rowOf is the credentials-table row of a client.
function rowOf(id) {
  return page.locator(`#clients-table tr[data-client-id="${id}"]`);
}

// statusIn is a client's status badge (the first: "expires in N days"
// may follow it), revoked clients shown.
async function statusIn(id) {
  await page.goto(`${ORG}/?owner=${encodeURIComponent(DEV_EMAIL)}&revoked=true`);
  return (await rowOf(id).locator(".status").first().textContent()).trim();
}

// a11y checks what can be checked without a library: one <h1>, headings
// in order, every form control labelled, every header cell scoped, lang
// set, a skip link first, and inputs with errors tied to their message.
async function a11y(where) {
  const problems = await page.evaluate(() => {
    const out = [];
    if (!document.documentElement.lang) out.push("no lang on <html>");
    const hs = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6")].map((h) => Number(h.tagName[1]));
    if (hs.filter((l) => l === 1).length !== 1) out.push(`want one h1, got ${hs.filter((l) => l === 1).length}`);
    for (let i = 1; i < hs.length; i++) if (hs[i] > hs[i - 1] + 1) out.push(`heading level jumps from h${hs[i - 1]} to h${hs[i]}`);
    for (const el of document.querySelectorAll("input:not([type=hidden]),select,textarea")) {
      if (!el.labels || el.labels.length === 0) out.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name || el.id}`);
      if (el.getAttribute("aria-invalid") === "true") {
        const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
        const described = ids.map((id) => document.getElementById(id)).filter(Boolean);
        if (!described.some((e) => e.classList.contains("field-error") || e.closest("[role=alert]"))) {
          out.push(`invalid ${el.name} not described by an error`);
        }
      }
    }
    for (const th of document.querySelectorAll("table th")) if (!th.getAttribute("scope")) out.push(`th without scope: ${th.textContent.trim()}`);
    for (const b of document.querySelectorAll("[role=button], a[onclick], div[onclick]")) out.push(`fake button: ${b.outerHTML.slice(0, 60)}`);
    const skip = document.querySelector("a.skip-link");
    if (!skip || skip !== document.querySelector("body a")) out.push("the skip link is not the first link");
    if (!document.querySelector("main#main")) out.push("no <main id=main>");
    return out;
  });
  assert.deepEqual(problems, [], `accessibility problems on ${where}`);
}

// --- steps -----------------------------------------------------------------

test("no page is reachable without a session", async () => {
  for (const p of ["/admin/", `${ORG}/`, `${ORG}/members`, `${ORG}/clients/new`, `${ORG}/policy`, "/admin/keys", `${ORG}/audit`]) {
    const res = await page.goto(p);
    assert.equal(new URL(page.url()).pathname, "/admin/login", `${p} did not lead to the sign-in page`);
    assert.equal(res.status(), 200);
    assert.equal(await heading(), "Sign in");
  }
  // The sign-in page brings us back where we were going.
  assert.equal(new URL(page.url()).searchParams.get("next"), `${ORG}/audit`);
  await a11y("sign-in page");
  await shot("01-login");
});

test("sign in: a wrong password is refused, the right one opens the console", async () => {
  await page.goto("/admin/login");
  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#error-summary").waitFor();
  assert.match(await page.locator("#error-summary").textContent(), /Invalid email or password/);
  assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
  await a11y("failed sign-in");

  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A person in two organizations chooses one.
  await page.waitForURL(/\/admin\/$/);
  assert.equal(await heading(), "Choose an organization");
  const cookies = await context.cookies();
  const sess = cookies.find((c) => c.name === "authz_session");
  assert.ok(sess, "no session cookie");
  assert.equal(sess.httpOnly, true);
  assert.equal(sess.sameSite, "Strict");
  assert.equal(sess.path, "/admin");
  // Roughly 24 hours.
  assert.ok(Math.abs(sess.expires - (Date.now() / 1000 + 86400)) < 120, `session expires at ${sess.expires}`);
});

test("keyboard: the skip link comes first and moves focus to the content", async () => {
  await page.goto(`${ORG}/`);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "Skip to main content");
  assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), "solid", "no visible focus style");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
});

test("create a user (a member with permissions who may create clients)", async () => {
  await page.goto(`${ORG}/members`);
  assert.equal(await heading(), "Members");
  await page.getByLabel("Email").fill(DEV_EMAIL);
  await page.getByLabel("Name").fill("Dana Developer");
  await page.getByLabel("Role").selectOption("member");
  await page.getByLabel("Permissions").fill("analysis:read analysis:create");
  await page.getByLabel("May create clients").check();
  await page.getByRole("button", { name: "Add member" }).click();
  await page.waitForURL(/notice=user_created/);
  assert.equal(await notice(), "The user was created.");
  const row = page.locator(`#users-table tr[data-email="${DEV_EMAIL}"]`);
  assert.match(await row.textContent(), /Dana Developer/);
  assert.match(await row.textContent(), /analysis:create\s+analysis:read/);
  assert.match(await row.locator("[data-label=Status]").textContent(), /active/);

  // The same email again: an error tied to the email field.
  await page.getByLabel("Email").fill(DEV_EMAIL);
  await page.getByLabel("Name").fill("Someone else");
  await page.getByRole("button", { name: "Add member" }).click();
  await page.locator("#error-summary").waitFor();
  assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator("#f-email-err").textContent(), /already a member/);
  await a11y("users page with an error");
});

test("create a client for that user: only the owner's permissions, with a live preview", async () => {
  await page.goto(`${ORG}/clients/new?kind=project`);
  assert.equal(await heading(), "New project credential");
  await a11y("new client form");
  await page.getByLabel("Owner").selectOption(DEV_EMAIL);

  // The admin holds config:read; the owner does not, so it is not offered.
  assert.equal(await page.locator('[data-scope="config:read"]').isVisible(), false);
  assert.equal(await page.getByLabel("analysis:read").isVisible(), true);
  assert.equal(await page.getByLabel("analysis:create").isVisible(), true);
  const effective = page.locator("#effective");
  assert.match(await effective.textContent(), /none/);
  await page.getByLabel("analysis:read").check();
  assert.equal((await effective.textContent()).trim(), "analysis:read");
  await page.getByLabel("analysis:create").check();
  assert.equal((await effective.textContent()).trim().split(/\s+/).sort().join(" "), "analysis:create analysis:read");
  await page.getByLabel("analysis:create").uncheck();
  assert.equal((await effective.textContent()).trim(), "analysis:read");
  await page.getByLabel("analysis:create").check();

  await page.getByLabel("Name").fill(XSS_NAME);
  await page.getByLabel("Description").fill("uploads nightly analyses");
  await page.getByLabel("Token lifetime").fill("10m");
  await shot("03-new-client");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#secret-box").waitFor();

  // The user-controlled name is text, not markup.
  assert.equal(await heading(), XSS_NAME);
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  const secret = (await page.locator("#new-secret").textContent()).trim();
  const id = (await page.locator("#new-client-id").textContent()).trim();
  assert.match(secret, SECRET_RE);
  assert.match(id, /^azc_/);
  assert.match(await page.locator("#secret-box").textContent(), /only time this secret is shown/);
  // The address bar shows the client's page: a reload is a GET.
  assert.equal(new URL(page.url()).pathname, `${ORG}/clients/${id}`);

  // The copy button puts the secret on the clipboard.
  await page.getByRole("button", { name: "Copy secret" }).click();
  await page.locator("#copy-status").filter({ hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await a11y("client created");
  await shot("04-client-created", { mask: [page.locator(".secret-value")] });
  Object.assign(state, { id, secret });
});

test("the copied secret gets a token at the token endpoint", async () => {
  const r = await token(state.id, state.secret);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.token_type, "Bearer");
  assert.equal(r.body.expires_in, 600);
  assert.deepEqual(r.body.scope.split(" ").sort(), ["analysis:create", "analysis:read"]);
});

test("reloading the page does not show the secret again; last use appears", async () => {
  await page.reload();
  assert.equal(await page.locator("#secret-box").count(), 0);
  assert.ok(!(await page.content()).includes(state.secret), "the secret is on the page after a reload");
  const last4 = state.secret.slice(-4);
  assert.match(await page.locator("#secrets-table tbody").textContent(), new RegExp(`azs_…${last4}`));
  // Usage is flushed every 200 ms in the e2e server, which tells no one:
  // reload until it shows, for up to 30 s.
  let used = "";
  for (const deadline = Date.now() + 30_000; !/127\.0\.0\.1/.test(used) && Date.now() < deadline; ) {
    await page.waitForTimeout(200);
    await page.reload();
    used = await page.locator("#secrets-table tbody [data-label='Last used']").first().textContent();
  }
  assert.match(used, /127\.0\.0\.1/);
  await page.goto(`${ORG}/?owner=${encodeURIComponent(DEV_EMAIL)}`);
  const row = rowOf(state.id);
  assert.match(await row.locator("[data-label='Last IP']").textContent(), /127\.0\.0\.1/);
  assert.equal((await row.locator(".status").first().textContent()).trim(), "active");
  assert.match(await row.locator("[data-label='Created by']").textContent(), new RegExp(ADMIN_EMAIL));
  assert.match(await row.locator("[data-label='Owner']").textContent(), new RegExp(DEV_EMAIL));
  assert.ok(!(await page.content()).includes(state.secret));
});

test("rotate with a grace period: the new secret is shown once, both work", async () => {
  await page.goto(`${ORG}/clients/${state.id}`);
  await page.getByLabel("Old secrets keep working for").selectOption("1d");
  await page.getByRole("button", { name: "Rotate secret" }).click();
  await page.locator("#secret-box").waitFor();
  assert.match(await page.locator("#secret-h").textContent(), /New secret/);
  const fresh = (await page.locator("#new-secret").textContent()).trim();
  assert.match(fresh, SECRET_RE);
  assert.notEqual(fresh, state.secret);
  assert.equal(new URL(page.url()).pathname, `${ORG}/clients/${state.id}`);
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 2);

  assert.equal((await token(state.id, state.secret)).status, 200, "the old secret stopped during its grace period");
  assert.equal((await token(state.id, fresh)).status, 200, "the new secret does not work");

  await page.reload();
  assert.equal(await page.locator("#secret-box").count(), 0);
  assert.ok(!(await page.content()).includes(fresh));
  const statuses = await page.locator("#secrets-table tbody .status").allTextContents();
  assert.deepEqual(statuses.map((s) => s.trim()), ["active", "active"]);
  // The old one now expires (grace), the new one with the client.
  assert.match(await page.locator("#secrets-table tbody tr").first().locator("[data-label=Expires]").textContent(), /\d{4}-\d\d-\d\d/);
  state.fresh = fresh;
});

test("revoke asks first; then the token endpoint refuses the client (401)", async () => {
  await page.goto(`${ORG}/clients/${state.id}`);
  // Dismissed: nothing happens (a revocation sent anyway would make the
  // accepted one below fail as already revoked).
  const dismissed = page.waitForEvent("dialog").then((d) => d.dismiss());
  await page.getByRole("button", { name: "Revoke client" }).click();
  await dismissed;
  assert.equal((await page.locator("#client-status").textContent()).trim(), "active");
  assert.equal((await token(state.id, state.fresh)).status, 200);

  let message = "";
  page.once("dialog", (d) => {
    message = d.message();
    assert.equal(d.type(), "confirm");
    d.accept();
  });
  await page.getByRole("button", { name: "Revoke client" }).click();
  await page.waitForURL(/notice=revoked/);
  assert.match(message, /Revoke/);
  assert.match(await notice(), /revoked/);
  assert.equal((await page.locator("#client-status").textContent()).trim(), "revoked");
  assert.equal(await page.getByRole("button", { name: "Rotate secret" }).count(), 0);

  for (const s of [state.fresh, state.secret]) {
    const r = await token(state.id, s);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error, "invalid_client");
  }
  // The audit trail on the client's page tells the story.
  const trail = await page.locator("table.audit tbody").textContent();
  for (const action of ["client.created", "secret.rotated", "client.revoked"]) assert.match(trail, new RegExp(action.replace(".", "\\.")));
  await a11y("revoked client");
  await shot("05-client-revoked");
});

test("a second client, then the policy changes what the table shows", async () => {
  // A second, active client for the same owner.
  await page.goto(`${ORG}/clients/new?kind=project`);
  await page.getByLabel("Owner").selectOption(DEV_EMAIL);
  await page.getByLabel("Name").fill("Reporting job");
  await page.getByLabel("analysis:read").check();
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#secret-box").waitFor();
  state.id2 = (await page.locator("#new-client-id").textContent()).trim();
  state.secret2 = (await page.locator("#new-secret").textContent()).trim();
  assert.equal((await token(state.id2, state.secret2)).status, 200);

  await page.goto(`${ORG}/?owner=${encodeURIComponent(DEV_EMAIL)}`);
  assert.equal(await page.locator("#expiring-h").count(), 0, "nothing should expire soon yet");
  const before = await rowOf(state.id2).locator("[data-label=Expires] time").getAttribute("datetime");

  // An invalid policy: the error is shown next to its field.
  await page.goto(`${ORG}/policy`);
  await a11y("policy page");
  await shot("07-policy");
  await page.getByLabel("Maximum credential lifetime").fill("7d");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.locator("#error-summary").waitFor();
  assert.equal(await page.getByLabel("Default credential lifetime").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator("#f-default_credential_lifetime-err").textContent(), /exceeds the maximum/);
  await a11y("policy page with an error");

  // A maximum lifetime of 7 days, counted from creation: every credential
  // now expires within a week, and the banner says so.
  await page.getByLabel("Default credential lifetime").fill("7d");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.waitForURL(/notice=policy_saved/);
  assert.equal(await page.getByLabel("Maximum credential lifetime").inputValue(), "7d");

  await page.goto(`${ORG}/?owner=${encodeURIComponent(DEV_EMAIL)}`);
  const afterExp = await rowOf(state.id2).locator("[data-label=Expires] time").getAttribute("datetime");
  assert.notEqual(afterExp, before);
  const in7 = new Date(Date.now() + 7 * 86400_000).toISOString().slice(0, 10);
  const in7b = new Date(Date.now() + 7 * 86400_000 - 60_000).toISOString().slice(0, 10);
  assert.ok(afterExp.includes(in7) || afterExp.includes(in7b), `expiry ${afterExp} is not 7 days from now`);
  assert.match(await page.locator("#expiring-h").textContent(), /expires? within 30 days/);
  assert.match(await page.locator("section[aria-labelledby=expiring-h]").textContent(), /Reporting job/);

  // An organization IP allowlist without 127.0.0.1: the token endpoint
  // refuses; cleared, it serves again.
  await page.goto(`${ORG}/policy`);
  await page.getByLabel("Organization IP allowlist").fill("10.0.0.0/8\n2001:db8::/32");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.waitForURL(/notice=policy_saved/);
  let r = await token(state.id2, state.secret2);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, "unauthorized_client");
  await page.getByLabel("Organization IP allowlist").fill("");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.waitForURL(/notice=policy_saved/);
  assert.equal((await token(state.id2, state.secret2)).status, 200);

  // One client per owner: the owner holds one active client, so another is
  // refused, with the reason next to the owner field.
  await page.getByLabel("Clients per owner").fill("1");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.waitForURL(/notice=policy_saved/);
  await page.goto(`${ORG}/clients/new?kind=project`);
  await page.getByLabel("Owner").selectOption(DEV_EMAIL);
  await page.getByLabel("Name").fill("One too many");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#error-summary").waitFor();
  assert.equal(await page.getByLabel("Owner").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator("#f-owner-err").textContent(), /already holds 1 active clients/);
  assert.equal(await page.getByLabel("Name").inputValue(), "One too many", "the form lost what was typed");
  await a11y("new client form with an error");
  await shot("03-new-client-error");
});

test("disabling the owner shows the client as disabled by owner; enabling restores it", async () => {
  await page.goto(`${ORG}/members`);
  await page.getByRole("button", { name: `Disable ${DEV_EMAIL}` }).click();
  await page.waitForURL(/notice=user_updated/);
  assert.match(await page.locator(`#users-table tr[data-email="${DEV_EMAIL}"] [data-label=Status]`).textContent(), /disabled/);
  assert.equal(await statusIn(state.id2), "disabled by owner");
  assert.equal(await statusIn(state.id), "revoked");
  assert.equal((await token(state.id2, state.secret2)).status, 400);

  // The status filter finds it.
  await page.goto(`${ORG}/`);
  await page.getByLabel("Status").selectOption("disabled_by_owner");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/status=disabled_by_owner/);
  assert.equal(await page.locator("#clients-table tbody tr[data-client-id]").count(), 1);
  assert.equal(await rowOf(state.id2).count(), 1);

  await page.goto(`${ORG}/members`);
  await page.getByRole("button", { name: `Enable ${DEV_EMAIL}` }).click();
  await page.waitForURL(/notice=user_updated/);
  assert.equal(await statusIn(state.id2), "active");
  assert.equal((await token(state.id2, state.secret2)).status, 200);

  // Allow/deny client creation.
  await page.goto(`${ORG}/members`);
  await page.getByRole("button", { name: `Deny creation for ${DEV_EMAIL}` }).click();
  await page.waitForURL(/notice=user_updated/);
  assert.match(await page.locator(`#users-table tr[data-email="${DEV_EMAIL}"] [data-label="May create clients"]`).textContent(), /no/);
  await page.getByRole("button", { name: `Allow creation for ${DEV_EMAIL}` }).click();
  await page.waitForURL(/notice=user_updated/);
  assert.match(await page.locator(`#users-table tr[data-email="${DEV_EMAIL}"] [data-label="May create clients"]`).textContent(), /yes/);
  await a11y("users page");
  await shot("06-users");

  // A user's page: set permissions.
  await page.getByRole("link", { name: DEV_EMAIL }).click();
  await page.getByLabel("Permissions", { exact: true }).fill("analysis:read");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForURL(/notice=user_updated/);
  assert.equal(await page.getByLabel("Permissions", { exact: true }).inputValue(), "analysis:read");
  await a11y("user page");
  await shot("06-user");
});

test("signing keys and the audit log render, and the filters work", async () => {
  await page.goto("/admin/keys");
  assert.equal(await heading(), "Signing keys");
  const states = await page.locator("#keys-table tbody [data-label=State]").allTextContents();
  assert.ok(states.map((s) => s.trim()).includes("active"), `key states: ${states}`);
  await a11y("keys page");
  await shot("08-keys");

  await page.goto(`${ORG}/audit`);
  assert.equal(await heading(), "Audit log");
  const all = await page.locator("table.audit tbody tr").count();
  assert.ok(all >= 8, `only ${all} audit events`);
  await page.getByLabel("Action").selectOption("client.revoked");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=client\.revoked/);
  const actions = await page.locator("table.audit tbody [data-label=Action]").allTextContents();
  assert.deepEqual(actions.map((a) => a.trim()), ["client.revoked"]);
  assert.match(await page.locator("table.audit tbody").textContent(), new RegExp(state.id));

  await page.goto(`${ORG}/audit?client_id=${encodeURIComponent(state.id2)}`);
  const forClient = await page.locator("table.audit tbody [data-label=Client]").allTextContents();
  assert.ok(forClient.length >= 1 && forClient.every((c) => c.trim() === state.id2), `client filter: ${forClient}`);
  await page.getByLabel("About user").selectOption({ label: DEV_EMAIL });
  await page.getByLabel("Client ID").fill("");
  await page.getByLabel("Action").selectOption("user.updated");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=user\.updated/);
  const users = await page.locator("table.audit tbody [data-label=User]").allTextContents();
  // disable, enable, deny, allow, permissions
  assert.ok(users.length >= 5 && users.every((u) => u.trim() === DEV_EMAIL), `user filter: ${users}`);
  await page.goto(`${ORG}/audit`);
  await a11y("audit page");
  await shot("09-audit");
});

test("screenshots of the credentials table and a client's page", async () => {
  await page.goto(`${ORG}/`);
  await a11y("credentials table");
  await shot("02-credentials");
  await page.goto(`${ORG}/clients/${state.id2}`);
  await a11y("client page");
  await shot("05-client");
});

test("switch organization, create a credential of each kind, see its project", async () => {
  // The choice of organization, then the switcher in the header.
  await page.goto("/admin/");
  await page.locator("#org-list").getByRole("link", { name: "Acme" }).click();
  await page.waitForURL(new RegExp(`${ACME}/$`));
  assert.equal(await heading(), "Credentials");
  await page.locator("#org-switcher summary").click();
  await page.locator("#org-switcher").getByRole("link", { name: /Default/ }).click();
  await page.waitForURL(new RegExp(`${ORG}/$`));
  assert.match(await page.locator("#org-switcher summary").textContent(), /Default/);
  await page.locator("#org-switcher summary").click();
  await page.locator("#org-switcher").getByRole("link", { name: /Acme/ }).click();
  await page.waitForURL(new RegExp(`${ACME}/$`));
  // Nothing of the default organization shows in acme.
  assert.equal(await rowOf(state.id2).count(), 0);

  const kinds = [
    { kind: "project", title: "Project credential", line: "For a service that calls one project's API", project: "api", prefix: /^azs_/ },
    { kind: "organization", title: "Organization credential", line: "it names the project in each token request", project: "", prefix: /^azo_/ },
    { kind: "publishable", title: "Publishable credential", line: "Safe to ship in a browser or mobile app", project: "default", prefix: /^azp_/ },
  ];
  for (const k of kinds) {
    await page.goto(`${ACME}/clients/new`);
    assert.equal(await heading(), "New client");
    const card = page.locator(`#client-kinds li[data-kind="${k.kind}"]`);
    assert.ok((await card.textContent()).includes(k.line), `${k.kind}: its line`);
    await card.getByRole("link", { name: k.title }).click();
    await page.waitForURL(new RegExp(`kind=${k.kind}`));
    await a11y(`new ${k.kind} client form`);
    if (k.project) await page.locator("#f-project").selectOption(k.project);
    else assert.equal(await page.locator("#f-project").count(), 0);
    await page.getByLabel("Name").fill(`Acme ${k.kind}`);
    await page.getByRole("button", { name: "Create client" }).click();
    await page.locator("#secret-box").waitFor();
    const secret = (await page.locator("#new-secret").textContent()).trim();
    const id = (await page.locator("#new-client-id").textContent()).trim();
    assert.match(secret, k.prefix, `${k.kind} secret`);
    assert.equal((await page.locator("#client-kind").textContent()).trim(), k.kind);
    await shot(`10-new-${k.kind}-client`, { mask: [page.locator(".secret-value")] });
    await page.goto(`${ACME}/`);
    const cell = (await rowOf(id).locator("[data-label=Project]").textContent()).trim();
    assert.equal(cell, k.project || "all projects", `${k.kind} client's project column`);
  }
  await shot("11-acme-credentials");
});

// --- edit and renew a client ------------------------------------------------

test("edit a client: the live preview follows the scopes; a narrowed scope holds at the next token request", async () => {
  // A client owned by the admin (the default organization allows one per
  // owner and a 7-day lifetime by now).
  await page.goto(`${ORG}/clients/new?kind=project`);
  await page.getByLabel("Owner").selectOption(ADMIN_EMAIL);
  await page.getByLabel("Name").fill("Config sync");
  await page.getByLabel("analysis:read").check();
  await page.getByLabel("config:read").check();
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#secret-box").waitFor();
  const id = (await page.locator("#new-client-id").textContent()).trim();
  const secret = (await page.locator("#new-secret").textContent()).trim();
  Object.assign(state, { editId: id, editSecret: secret });

  await page.goto(`${ORG}/clients/${id}`);
  await page.locator("#edit-client").click();
  await page.waitForURL(new RegExp(`/clients/${id}/edit$`));
  assert.equal(await heading(), "Edit Config sync");
  await a11y("edit client form");
  const effective = page.locator("#effective");
  const eff = async () => (await effective.textContent()).trim().split(/\s+/).sort().join(" ");
  assert.equal(await eff(), "analysis:read config:read");
  await page.getByLabel("config:read").uncheck();
  assert.equal(await eff(), "analysis:read");
  await page.getByLabel("config:write").check();
  assert.equal(await eff(), "analysis:read config:write");
  await page.getByLabel("Name").fill("Config sync v2");
  await page.getByLabel("IP allowlist").fill("127.0.0.1\n::1");
  await shot("20-edit-client");

  // A bad range is refused next to its field, keeping what was typed.
  await page.getByLabel("Token lifetime").fill("2h");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.locator("#error-summary").waitFor();
  assert.equal(await page.getByLabel("Token lifetime").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator("#f-token_ttl-err").textContent(), /between 30s and/);
  assert.equal(await page.getByLabel("Name").inputValue(), "Config sync v2", "the form lost what was typed");
  await a11y("edit client form with an error");
  await shot("20-edit-client-error");

  await page.getByLabel("Token lifetime").fill("5m");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/notice=client_updated/);
  assert.match(await notice(), /saved/);
  assert.equal(await heading(), "Config sync v2");

  // The very next token request: config:read is no longer granted.
  const basic = Buffer.from(`${id}:${secret}`).toString("base64");
  const res = await fetch(`${BASE}/oauth2/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials&scope=config:read",
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "invalid_scope");
  const r = await token(id, secret);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.expires_in, 300);
  assert.equal(r.body.scope.split(" ").sort().join(" "), "analysis:read config:write");
});

test("renew a client: same client ID and secret, a new expiry within the policy's maximum", async () => {
  const id = state.editId;
  await page.goto(`${ORG}/clients/${id}`);
  await a11y("client page with the renewal panel");
  // The policy's maximum is 7 days: 30 is refused in the panel.
  assert.equal(await page.getByLabel("Expires in").inputValue(), "7d");
  await page.getByLabel("Expires in").fill("30d");
  await page.getByRole("button", { name: "Renew" }).click();
  await page.locator("#f-renew_in-err").waitFor();
  assert.match(await page.locator("#f-renew_in-err").textContent(), /beyond the maximum credential lifetime/);
  assert.equal(await page.getByLabel("Expires in").getAttribute("aria-invalid"), "true");
  await a11y("renewal refused");

  await page.getByLabel("Expires in").fill("3d");
  await page.getByRole("button", { name: "Renew" }).click();
  await page.waitForURL(/notice=client_renewed/);
  assert.match(await notice(), /renewed/);
  assert.equal((await page.locator("#client-id").textContent()).trim(), id);
  await page.locator("#client-renewed").waitFor();
  const in3 = new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10);
  const in3b = new Date(Date.now() + 3 * 86400_000 - 60_000).toISOString().slice(0, 10);
  const exp = await page.locator("#client-expires time").getAttribute("datetime");
  assert.ok(exp.startsWith(in3) || exp.startsWith(in3b), `expiry ${exp} is not 3 days from now`);
  await shot("21-client-renewed");
  assert.equal((await token(id, state.editSecret)).status, 200, "the same secret works after the renewal");
});

// --- finding credentials: search, sort, badges, copy, IP history, audit at 1280 px

// oneLine asserts that each element of the locator is one line high (no
// wrap): its height at most 1.5 times its computed line height.
async function oneLine(locator, what) {
  const tall = await locator.evaluateAll((els) => els.map((el) => {
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
    const h = el.getBoundingClientRect().height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return h > line * 1.5 ? `${el.textContent.trim()} (${h.toFixed(0)} px, line ${line.toFixed(0)} px)` : "";
  }).filter(Boolean));
  assert.deepEqual(tall, [], `${what} wrap`);
}

// fits asserts that the tables of the page need no horizontal scrolling.
async function fits(what) {
  const wide = await page.locator(".table-wrap").evaluateAll((ws) => ws
    .filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => `${w.scrollWidth} > ${w.clientWidth} px`));
  assert.deepEqual(wide, [], `${what}: a table is wider than the page`);
}

test("find: search the credentials table, sort its columns, show revoked ones", async () => {
  await page.setViewportSize(DESKTOP);
  await page.goto(`${ORG}/`);
  // Revoked credentials are hidden until asked for.
  assert.equal(await rowOf(state.id).count(), 0, "a revoked client is shown by default");
  assert.equal(await rowOf(state.id2).count(), 1);

  // Search: part of the name, in another case.
  await page.getByLabel("Search").fill("REPORTING");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/search=REPORTING/);
  let ids = await page.locator("#clients-table tbody tr[data-client-id]").evaluateAll((rows) => rows.map((r) => r.dataset.clientId));
  assert.deepEqual(ids, [state.id2]);
  await shot("12-find-search");
  // A part of the client id finds it too.
  await page.goto(`${ORG}/?search=${encodeURIComponent(state.id2.slice(4, 14))}`);
  ids = await page.locator("#clients-table tbody tr[data-client-id]").evaluateAll((rows) => rows.map((r) => r.dataset.clientId));
  assert.deepEqual(ids, [state.id2]);

  // Sort by name: a click sorts ascending, a second descending.
  await page.goto(`${ORG}/?revoked=true`);
  await page.getByRole("link", { name: "Name", exact: true }).click();
  await page.waitForURL(/sort=name/);
  assert.equal(await page.locator("th[aria-sort=ascending]").textContent(), "Name ↑");
  const names = async () => (await page.locator("#clients-table tbody th[data-label=Name] > a").allTextContents()).map((n) => n.trim());
  const asc = await names();
  assert.ok(asc.length >= 2, `names: ${asc}`);
  assert.deepEqual(asc, [...asc].sort(), "names are not in ascending order");
  await page.getByRole("link", { name: "Name ↑" }).click();
  await page.waitForURL(/order=desc/);
  assert.deepEqual(await names(), [...asc].reverse());
  // Revoked ones shown on request, with their badge, and the sort kept.
  assert.equal(await page.getByLabel("Show revoked").isChecked(), true);
  assert.equal((await rowOf(state.id).locator(".status").first().textContent()).trim(), "revoked");
  await shot("13-find-sorted");

  // Sort by last use: used clients first, the most recent first.
  await page.getByRole("link", { name: "Last used", exact: true }).click();
  await page.waitForURL(/sort=last_used/);
  const times = await page.locator("#clients-table tbody [data-label='Last used'] time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  assert.ok(times.length >= 1);
  assert.deepEqual(times, [...times].sort().reverse(), "last uses are not newest first");
  // Relative times, the exact UTC time on hover.
  const used = page.locator("#clients-table tbody [data-label='Last used'] time").first();
  assert.match(await used.textContent(), /ago|just now/);
  assert.match(await used.getAttribute("title"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

  // Client ids never wrap, and each has a copy button; at 1280 px the
  // table fits.
  await oneLine(page.locator("#clients-table code.id"), "client ids");
  await oneLine(page.locator("#clients-table [data-label=Project] code"), "project slugs");
  await fits("credentials table at 1280 px");
  await rowOf(state.id2).getByRole("button", { name: /Copy client ID/ }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), state.id2);
  await a11y("credentials table, sorted");
});

test("find: a client's page lists the addresses it was used from", async () => {
  assert.equal((await token(state.id2, state.secret2)).status, 200);
  // Usage (and with it the addresses) is flushed every 200 ms: reload
  // until it shows, for up to 30 s.
  await page.goto(`${ORG}/clients/${state.id2}`);
  let cells = [];
  for (const deadline = Date.now() + 30_000; !cells.includes("127.0.0.1") && Date.now() < deadline; ) {
    cells = (await page.locator("#ips-table tbody th[data-label='IP address']").allTextContents()).map((c) => c.trim());
    if (!cells.includes("127.0.0.1")) {
      await page.waitForTimeout(200);
      await page.reload();
    }
  }
  assert.deepEqual(cells, ["127.0.0.1"]);
  assert.ok(Number(await page.locator("#ips-table tbody [data-label=Tokens]").first().textContent()) >= 1);
  await a11y("client page with addresses");
  await shot("14-client-ips");
});

test("find: the audit log at 1280 px, one line per event, filtered by actor", async () => {
  await page.setViewportSize(DESKTOP);
  await page.goto(`${ORG}/audit`);
  assert.ok(await page.locator("table.audit tbody tr").count() >= 8);
  await oneLine(page.locator("table.audit tbody .when time"), "dates");
  await oneLine(page.locator("table.audit tbody .action code"), "action names");
  await oneLine(page.locator("table.audit tbody details summary"), "collapsed details");
  await oneLine(page.locator("table.audit tbody .actor"), "actors");
  await fits("audit log at 1280 px");
  // A detail opens to the whole of it.
  const details = page.locator("table.audit tbody details").first();
  await details.locator("summary").click();
  assert.equal(await details.evaluate((d) => d.open), true);
  await page.screenshot({ path: path.join(SHOTS, "15-audit-1280.png"), fullPage: true });

  await page.getByLabel("Actor").fill(ADMIN_EMAIL);
  await page.getByLabel("Action").selectOption("client.created");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/actor=/);
  const actors = (await page.locator("table.audit tbody [data-label=Actor]").allTextContents()).map((a) => a.trim());
  assert.ok(actors.length >= 2 && actors.every((a) => a === ADMIN_EMAIL), `actor filter: ${actors}`);
  await a11y("audit page filtered by actor");
  await page.screenshot({ path: path.join(SHOTS, "16-audit-actor-1280.png"), fullPage: true });
});

// ---- require DPoP: the checkbox of the edit form ----

test("require DPoP: the edit form's checkbox makes the token endpoint ask for a proof; unchecking lifts it", async () => {
  const id = state.editId;
  await page.goto(`${ORG}/clients/${id}/edit`);
  const box = page.getByLabel("Require DPoP");
  assert.equal(await box.isChecked(), false);
  await box.check();
  await shot("24-require-dpop");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/notice=client_updated/);
  assert.match(await page.locator("main").textContent(), /required: its tokens are bound to its key/);
  const refused = await token(id, state.editSecret);
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(refused.body.error, "invalid_request");
  assert.match(refused.body.error_description, /DPoP/);

  await page.goto(`${ORG}/clients/${id}/edit`);
  assert.equal(await page.getByLabel("Require DPoP").isChecked(), true);
  await page.getByLabel("Require DPoP").uncheck();
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/notice=client_updated/);
  assert.equal((await token(id, state.editSecret)).status, 200);
});

// ---- legacy credentials: the banner and the "deprecated, stops on DATE" badge ----

test("an imported credential is deprecated: a banner, and its badge says when it stops", async () => {
  const id = "legacy-ci-e2e-1";
  // The admin's one client allowed by the policy is the edited one: it
  // is done with, and revoking it makes room.
  const rev = await page.request.post(`${BASE}/admin/api/v1/orgs/default/clients/${state.editId}/revoke`, { data: {} });
  assert.equal(rev.status(), 200, await rev.text());
  const res = await page.request.post(`${BASE}/admin/api/v1/orgs/default/clients/import`, {
    data: { client_id: id, client_secret: "oldco-e2e-0123456789abcdef", owner: ADMIN_EMAIL, name: "Old CI", scopes: ["analysis:read"] },
  });
  assert.equal(res.status(), 201, await res.text());
  const body = await res.json();
  assert.equal(body.status, "deprecated");
  assert.match(body.legacy_sunset, /^\d{4}-\d{2}-\d{2}T/);
  const day = body.legacy_sunset.slice(0, 10);

  // It works during the window.
  assert.equal((await token(id, "oldco-e2e-0123456789abcdef")).status, 200);

  await page.goto(`${ORG}/`);
  const banner = page.locator("section.banner", { has: page.locator("#legacy-h") });
  assert.match(await banner.textContent(), /deprecated secret format/);
  assert.match(await banner.textContent(), /Old CI/);
  const badge = rowOf(id).locator(".status").first();
  assert.equal((await badge.textContent()).trim(), `deprecated, stops on ${day}`);
  await shot("22-legacy-banner");
  await page.goto(`${ORG}/clients/${id}`);
  assert.equal((await page.locator("#client-status").textContent()).trim(), `deprecated, stops on ${day}`);
  await shot("23-legacy-client");
});

// --- private_key_jwt: a client with public keys, no secret ---------------------

// keyPair is an ES256 key pair whose public half is a JWKS with kid.
function keyPair(kid) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  return { privateKey, jwks: JSON.stringify({ keys: [jwk] }), kid };
}

// assertionToken asks for a token with a client assertion signed by k.
async function assertionToken(id, k) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "ES256", kid: k.kid, typ: "JWT" })}.${b64({ iss: id, sub: id, aud: `${BASE}/oauth2/token`, iat: now, exp: now + 60, jti: randomUUID() })}`;
  const sig = sign("sha256", Buffer.from(input), { key: k.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
  const res = await fetch(`${BASE}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: `${input}.${sig}` }),
  });
  return { status: res.status, body: await res.json() };
}

test("private_key_jwt: create a client with pasted public keys; it gets a token with a signed assertion, no secret shown", async () => {
  const k = keyPair("e2e-1");
  await page.goto(`${ACME}/clients/new?kind=project`);
  await page.locator("#f-project").selectOption("api");
  await page.getByLabel("Name").fill("Acme deployer (keys)");
  await page.locator("#auth-keys").check();
  await page.locator("#f-jwks").fill(k.jwks);
  await a11y("new client form with public keys");
  await shot("25-new-key-client");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#created-box").waitFor();
  assert.equal(await page.locator("#new-secret").count(), 0);
  const id = (await page.locator("#new-client-id").textContent()).trim();
  assert.match(await page.locator("#client-auth").textContent(), /private_key_jwt/);
  assert.equal(await page.locator("#rotate-h").count(), 0);
  await a11y("key client created");
  await shot("26-key-client-created");
  const r = await assertionToken(id, k);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  Object.assign(state, { keyId: id, key: k });
});

test("private_key_jwt: Replace keys refuses a private key next to the field, then the new key works and the old one is refused", async () => {
  await page.goto(`${ACME}/clients/${state.keyId}`);
  const fresh = keyPair("e2e-2");
  const priv = { ...fresh.privateKey.export({ format: "jwk" }), kid: "e2e-2" };
  await page.locator("#f-keys-jwks").fill(JSON.stringify({ keys: [priv] }));
  await page.getByRole("button", { name: "Replace keys" }).click();
  await page.locator("#f-keys-err").waitFor();
  assert.match(await page.locator("#f-keys-err").textContent(), /private key/);
  await a11y("replace keys refused");
  await shot("27-replace-keys-refused");
  await page.locator("#f-keys-jwks").fill(fresh.jwks);
  await page.getByRole("button", { name: "Replace keys" }).click();
  await page.waitForURL(/notice=keys_replaced/);
  assert.match(await page.locator("#client-jwks").textContent(), /e2e-2/);
  assert.equal((await assertionToken(state.keyId, state.key)).status, 401);
  assert.equal((await assertionToken(state.keyId, fresh)).status, 200);
  await shot("28-keys-replaced");
});

// --- federated workload identity: trusted issuers and bound clients ---------
// In the acme organization (the default one's policy allows its owners one
// client each by now).

const GITHUB_ISS = "https://token.actions.githubusercontent.com";

// githubToken is a GitHub Actions-shaped workload token for audience aud,
// signed with k (the trusted issuer's pasted key): a job of acme/api,
// claims overridden by extra.
function githubToken(k, aud, extra = {}) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: GITHUB_ISS, aud, sub: "repo:acme/api:ref:refs/heads/main", jti: randomUUID(), iat: now, nbf: now - 5, exp: now + 300,
    repository: "acme/api", repository_owner: "acme", ref: "refs/heads/main", environment: "production", ...extra,
  };
  const input = `${b64({ alg: "ES256", kid: k.kid, typ: "JWT" })}.${b64(claims)}`;
  return `${input}.${sign("sha256", Buffer.from(input), { key: k.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
}

// workloadToken asks for a token as client id with a platform token.
async function workloadToken(id, platformToken) {
  const res = await fetch(`${BASE}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: id, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: platformToken }),
  });
  return { status: res.status, body: await res.json() };
}

test("federated workload identity: an admin adds a trusted issuer with a pasted JWKS", async () => {
  const k = keyPair("gha-e2e");
  await page.goto(`${ACME}/`);
  await page.getByRole("link", { name: "Trusted issuers" }).click();
  await page.waitForURL(/\/issuers$/);
  assert.equal(await heading(), "Trusted issuers");
  // The audience suggested names this server and this organization.
  const aud = await page.locator("#f-audience").inputValue();
  assert.equal(aud, `${BASE}/orgs/acme`);
  await page.getByLabel("Name", { exact: true }).fill("GitHub Actions");
  await page.getByLabel("Issuer URL").fill(GITHUB_ISS);
  await page.locator("#keys-jwks").check();
  await page.getByLabel("Maximum token lifetime").fill("10m");
  // Pasting chosen but nothing pasted: refused next to the keys.
  await page.getByRole("button", { name: "Add issuer" }).click();
  await page.locator("#f-keys-err").waitFor();
  assert.match(await page.locator("#f-keys-err").textContent(), /paste the issuer's JWKS/);
  assert.equal(await page.locator("#f-issuer").inputValue(), GITHUB_ISS);
  await a11y("add issuer refused");
  await shot("12-trusted-issuers-error");
  await page.locator("#f-jwks").fill(k.jwks);
  await page.getByRole("button", { name: "Add issuer" }).click();
  await page.waitForURL(/notice=issuer_added/);
  const row = page.locator("#issuers-table tbody tr", { hasText: "GitHub Actions" });
  assert.match(await row.textContent(), /token\.actions\.githubusercontent\.com/);
  assert.match(await row.textContent(), /pasted JWKS/);
  assert.equal((await row.locator('[data-label="Single use"]').textContent()).trim(), "yes");
  assert.equal((await row.locator('[data-label="Clients"]').textContent()).trim(), "0");
  await a11y("trusted issuers");
  await shot("12-trusted-issuers");
  Object.assign(state, { ghKey: k, ghAud: aud });
});

test("federated workload identity: a federated client; a too-wide subject is refused next to the field; no secret is shown", async () => {
  await page.goto(`${ACME}/clients/new?kind=project`);
  await page.locator("#f-project").selectOption("api");
  await page.getByLabel("Name", { exact: true }).fill("Deploy from GitHub Actions");
  // Only the chosen authentication's fields are shown.
  assert.equal(await page.locator("#f-subject").isVisible(), false);
  await page.locator("#auth-federated").check();
  assert.equal(await page.locator("#f-jwks").isVisible(), false);
  await page.getByLabel("Trusted issuer").selectOption({ label: `GitHub Actions (${GITHUB_ISS})` });
  await page.getByLabel("Subject").fill("repo:*");
  await page.locator("#f-conditions").fill("repository_owner=acme");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#f-subject-err").waitFor();
  assert.match(await page.locator("#f-subject-err").textContent(), /owner .* is not literal/);
  assert.equal(await page.locator("#f-subject").getAttribute("aria-invalid"), "true");
  assert.equal(await page.locator("#auth-federated").isChecked(), true);
  await a11y("federated client refused");
  await shot("13-federated-client-refused");

  await page.getByLabel("Subject").fill("repo:acme/api:ref:refs/heads/main");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.locator("#created-box").waitFor();
  assert.equal(await page.locator("#new-secret").count(), 0);
  assert.match(await page.locator("#created-box").textContent(), /client_assertion/);
  assert.match(await page.locator("#client-auth").textContent(), /workload identity \(federated\)/);
  assert.equal(await page.locator("#rotate-h").count(), 0);
  assert.equal((await page.locator("#binding-subject").textContent()).trim(), "repo:acme/api:ref:refs/heads/main");
  assert.equal((await page.locator("#binding-conditions").textContent()).trim(), "repository_owner=acme");
  const id = (await page.locator("#new-client-id").textContent()).trim();
  await a11y("federated client created");
  await shot("13-federated-client-created");

  // The job's platform token gets an access token; another owner's not.
  const r = await workloadToken(id, githubToken(state.ghKey, state.ghAud));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const other = await workloadToken(id, githubToken(state.ghKey, state.ghAud, { sub: "repo:evil/api:ref:refs/heads/main", repository_owner: "evil" }));
  assert.equal(other.status, 401);
  state.fedId = id;
});

test("federated workload identity: replace the binding; a default service account is refused; the old subject stops working", async () => {
  await page.goto(`${ACME}/clients/${state.fedId}`);
  const panel = page.locator("#binding-panel");
  await panel.getByLabel("Subject").fill("system:serviceaccount:payments:default");
  await panel.getByRole("button", { name: "Replace binding" }).click();
  await page.locator("#f-subject-err").waitFor();
  assert.match(await page.locator("#f-subject-err").textContent(), /default service account/);
  await a11y("replace binding refused");
  await shot("13-federated-client-binding-refused");

  await page.locator("#binding-panel").getByLabel("Subject").fill("repo:acme/api:environment:production");
  await page.locator("#binding-panel #f-conditions").fill("repository_owner=acme\nenvironment=production");
  await page.locator("#binding-panel").getByRole("button", { name: "Replace binding" }).click();
  await page.waitForURL(/notice=binding_set/);
  assert.match(await notice(), /binding was replaced/);
  assert.equal((await page.locator("#binding-subject").textContent()).trim(), "repo:acme/api:environment:production");
  assert.match(await page.locator("#binding-conditions").textContent(), /environment=production/);
  // The audit trail has the replacement.
  assert.match(await page.locator("table.audit").textContent(), /client\.federation_replaced/);
  assert.equal((await workloadToken(state.fedId, githubToken(state.ghKey, state.ghAud))).status, 401);
  const r = await workloadToken(state.fedId, githubToken(state.ghKey, state.ghAud, { sub: "repo:acme/api:environment:production" }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await a11y("binding replaced");
  await shot("13-federated-client-binding");
});

test("federated workload identity: an issuer with a client bound cannot be removed; the reason is shown", async () => {
  await page.goto(`${ACME}/issuers`);
  const row = page.locator("#issuers-table tbody tr", { hasText: "GitHub Actions" });
  assert.equal((await row.locator('[data-label="Clients"]').textContent()).trim(), "1");
  await row.getByRole("link", { name: "GitHub Actions" }).click();
  assert.equal(await heading(), "GitHub Actions");
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Remove issuer" }).click();
  await page.locator("#remove-issuer-err").waitFor();
  assert.match(await page.locator("#remove-issuer-err").textContent(), /1 client\(s\) are bound to this trusted issuer/);
  await a11y("issuer in use");
  await shot("12-trusted-issuers-in-use");
  await page.goto(`${ACME}/issuers`);
  assert.equal(await page.locator("#issuers-table tbody tr", { hasText: "GitHub Actions" }).count(), 1);
});

test("sign out ends the session", async () => {
  await page.goto(`${ORG}/`);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/admin\/login$/);
  assert.equal(await heading(), "Sign in");
  await page.goto("/admin/");
  assert.equal(new URL(page.url()).pathname, "/admin/login");
  assert.equal((await context.cookies()).some((c) => c.name === "authz_session"), false);
});

// --- observability: the server's root ---------------------------------------

test("the server's root leads to the console (the sign-in page without a session)", async () => {
  const res = await page.goto("/");
  assert.equal(new URL(page.url()).pathname, "/admin/login", "/ did not lead to the console");
  assert.equal(res.status(), 200);
  assert.equal(await heading(), "Sign in");
  const chain = [];
  for (let r = res.request().redirectedFrom(); r; r = r.redirectedFrom()) chain.unshift(new URL(r.url()).pathname);
  assert.deepEqual(chain, ["/", "/admin/"], "the redirects from /");
});

test("no Content-Security-Policy violation and no script error on any page", () => {
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(pageErrors, []);
});

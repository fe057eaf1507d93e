// What every scenario file shares: the browser, the server's and maildev's
// addresses, reading email from maildev's HTTP API, the accessibility check and the
// pictures. `cargo xtask e2e` sets the LATCHKEY_E2E_* variables.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run \`cargo xtask e2e\``);
  return value;
}

export const port = required('LATCHKEY_E2E_PORT');
export const origin = required('LATCHKEY_E2E_ORIGIN');
export const platform = required('LATCHKEY_E2E_PLATFORM');
const adminOrigin = required('LATCHKEY_E2E_ADMIN');
const operatorToken = required('LATCHKEY_E2E_OPERATOR_TOKEN');
const maildev = required('LATCHKEY_E2E_MAILDEV');
const database = required('LATCHKEY_E2E_DATABASE');
const secrets = required('LATCHKEY_E2E_SECRETS');
const pictures = process.env.LATCHKEY_E2E_SCREENSHOTS;

/// The acme demo firm's people, created by the development configuration.
export const demo = {
  admin: { email: 'admin@acme.test', password: 'acme-demo-admin-2026' },
  bodyBoom: { email: 'body.boom@acme.test', password: 'body-boom-demo-2026' },
  johnTeague: { email: 'john.teague@acme.test', password: 'john-teague-demo-2026' },
};

/// Long enough for a debug build hashing passwords for three browsers at once.
const MAIL_TIMEOUT_MS = 30_000;
const VIEWPORT = { width: 1280, height: 800 };

export function firmOrigin(slug) {
  return `http://${slug}.localhost:${port}`;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      // Pictures that do not depend on the machine's fonts' hinting or a GPU.
      '--font-render-hinting=none', '--force-color-profile=srgb', '--hide-scrollbars'],
  });
}

/// A page in a context of its own (its own cookies), sized and set up like a person's
/// desktop browser, so pictures come out the same every run.
export async function newPage(browser) {
  const context = await newContext(browser);
  return context.newPage();
}

export async function newContext(browser) {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
    colorScheme: 'light',
  });
  context.on('page', watch);
  return context;
}

/// Remembers a password the flows typed or received, for the log scan.
export async function secret(password) {
  await appendFile(secrets, `${password}\n`);
  return password;
}

// ---- the accessibility check and the pictures ------------------------------------

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/// Every kind of page a browser of this file loaded, and those axe checked, each
/// named by its kind and the first part of its title ("page: Sign in", "email:
/// Password Reset"): the file's last test holds that none went unchecked.
const visited = new Set();
const checked = new Set();

async function pageKind(page) {
  // Both from the document itself, so they belong to the same one.
  const [url, title] = await page.evaluate(() => [location.href, document.title]);
  return `${new URL(url).origin === maildev ? 'email' : 'page'}: ${title.split(' · ')[0]}`;
}

function watch(page) {
  page.on('load', () => {
    if (page.url() === 'about:blank') return;
    // A page left before its title could be read was not looked at either.
    pageKind(page).then((kind) => visited.add(kind), () => {});
  });
}

/// Fails listing each kind of page this file's browsers loaded that no step checked.
export function assertEveryPageChecked() {
  const unchecked = [...visited].filter((kind) => !checked.has(kind)).sort();
  assert.deepEqual(unchecked, [], `pages loaded but never checked by axe:\n${unchecked.join('\n')}`);
}

/// axe-core on the page as it is now: fails on any serious or critical violation,
/// listing each rule, its help text and the elements it found.
export async function checkAccessibility(page, step) {
  // Evaluated through the DevTools protocol, so the product's CSP does not apply.
  await page.evaluate(axeSource);
  const results = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    resultTypes: ['violations'],
  }));
  const bad = results.violations.filter((violation) => ['serious', 'critical'].includes(violation.impact));
  const list = bad.map((violation) => `  ${violation.impact}: ${violation.id} — ${violation.help}\n`
    + violation.nodes.map((node) => `      ${node.target.join(' ')}: ${node.failureSummary.replaceAll('\n', ' ')}`).join('\n'));
  assert.equal(bad.length, 0, `accessibility of ${step} (${page.url()}):\n${list.join('\n')}`);
  checked.add(await pageKind(page));
}

/// The accessibility check alone, for a page not worth a picture.
export async function check(page) {
  await page.waitForLoadState('load');
  await checkAccessibility(page, await page.title());
}

/// One step a person sees: checked by axe, and pictured as `docs/screenshots/NAME.png`
/// by the run that writes pictures. `mask` hides what changes between runs (links
/// with tokens and ports, times, generated passwords).
export async function step(page, name, { mask = [], style } = {}) {
  await page.waitForLoadState('load');
  await checkAccessibility(page, name);
  if (!pictures) return;
  await page.screenshot({
    path: join(pictures, `${name}.png`),
    animations: 'disabled',
    caret: 'hide',
    mask,
    maskColor: '#cbd5e1',
    style,
  });
}

// ---- email, from maildev's HTTP API ---------------------------------------------

const taken = new Set();

/// The oldest email to `address` whose subject is `subject` that no earlier call
/// returned, polling maildev's API until it arrives.
export async function email(address, subject) {
  const deadline = Date.now() + MAIL_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(`${maildev}/api/email`);
    assert.equal(response.status, 200, 'maildev answers');
    const messages = await response.json();
    const found = messages.find((message) => !taken.has(message.id)
      && message.subject === subject
      && message.to.some((to) => to.address === address));
    if (found) {
      taken.add(found.id);
      return found;
    }
    if (Date.now() > deadline) {
      const seen = messages.map((message) => `${message.to.map((to) => to.address).join(',')}: ${message.subject}`);
      assert.fail(`no "${subject}" email to ${address} within ${MAIL_TIMEOUT_MS / 1000} s; maildev holds:\n${seen.join('\n')}`);
    }
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
}

/// Pictures an email with its links to copy hidden: they hold a token and a port.
/// Each is laid out as a block while pictured, so the hidden box is as wide as the
/// text column every run, not as wide as this token's characters happen to be.
export async function emailStep(page, name, { mask = [] } = {}) {
  await step(page, name, {
    mask: [page.getByRole('link', { name: /^http/ }), ...mask],
    style: 'p > a[href^="http"] { display: block; }',
  });
}

/// Opens `message` as its recipient's mail program shows it: its HTML part.
export async function openEmail(page, message) {
  await page.goto(`${maildev}/api/email/${message.id}/html`);
}

/// The first link of `message`'s plain-text part that points at `host`.
export function linkIn(message, host) {
  const escaped = host.replaceAll('.', '\\.');
  const match = message.text.match(new RegExp(`http://${escaped}:\\d+/\\S+`));
  assert.ok(match, `the "${message.subject}" email holds a link to ${host}:\n${message.text}`);
  return match[0];
}

// ---- the operator API and the database --------------------------------------------

export async function operator(method, path, body) {
  const response = await fetch(`${adminOrigin}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/// Lets every unused link of the contact at `address` run out, as 15 minutes would:
/// the database is the only way, since the shortest lifetime a firm may choose is 5
/// minutes.
export async function expireLinks(address) {
  assert.match(address, /^[a-z0-9.@-]+$/, 'an address safe to put in SQL');
  const sql = 'UPDATE reset_tokens SET expires_at = created_at WHERE state = \'issued\' '
    + `AND account_id IN (SELECT id FROM contacts WHERE email = '${address}')`;
  if (database.startsWith('sqlite://')) {
    const file = database.slice('sqlite://'.length).split('?')[0];
    // The server holds the file open in WAL mode; wait for its writer, never fail.
    await run('sqlite3', ['-cmd', '.timeout 10000', file, sql]);
  } else {
    await run('psql', [database, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
  }
}

// ---- what people do again and again ---------------------------------------------

export async function signIn(page, url, address, password) {
  await page.goto(url);
  await submitSignIn(page, address, password);
}

/// The sign-in form of the page already open, filled and sent.
export async function submitSignIn(page, address, password) {
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export function atPath(path) {
  return (url) => url.pathname === path;
}

/// Fills the "Set your password" / "Reset Password" form the emailed link opens.
export async function choosePassword(page, password, button) {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Confirm new password').fill(password);
  await page.getByRole('button', { name: button }).click();
}

/// From the "Set your password" page an invitation opened: a first password (named
/// by `passphrase`, kept for the log scan), then the contact's first sign-in with it.
export async function firstSignIn(page, address, passphrase, name) {
  const password = await secret(passphrase);
  await choosePassword(page, password, 'Set password');
  await page.waitForURL(atPath('/login'));
  await submitSignIn(page, address, password);
  await page.getByText(`Welcome, ${name}`).waitFor();
}

/// A link followed to the page it opens, checked by axe.
async function follow(page, link, heading) {
  await page.getByRole('link', { name: link }).click();
  await page.getByRole('heading', { name: heading }).waitFor();
  await check(page);
}

/// What a firm's staff do before a contact can be invited: from the signed-in
/// `staff` page, a new client named `client` and, under it, a contact; every page on
/// the way checked. Ends with the contact's form sent.
export async function addClientAndContact(staff, client, contact, address) {
  await follow(staff, 'Client Settings', 'All Firm Clients');
  await follow(staff, 'Add client', 'Add client');
  await staff.getByLabel('Name').fill(client);
  await staff.getByRole('button', { name: 'Save' }).click();
  await staff.getByRole('heading', { name: client }).waitFor();
  await check(staff);
  await follow(staff, 'Add contact', 'Add contact');
  await staff.getByLabel('Name').fill(contact);
  await staff.getByLabel('Email').fill(address);
  await staff.getByRole('button', { name: 'Save' }).click();
}

/// A firm provisioned through the operator API, its administrator's invitation
/// redeemed and the administrator signed in on `page`. `pictures` names the steps'
/// pictures when they are wanted.
export async function provisionFirm(page, slug, name, { pictures: prefix } = {}) {
  const admin = `admin@${slug}.test`;
  const created = await operator('POST', '/tenants', { slug, name, admin_email: admin, admin_name: 'Dana Admin' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const invitation = await email(admin, 'Set your password');
  await openEmail(page, invitation);
  await page.getByRole('link', { name: 'Set your password' }).waitFor();
  await (prefix ? emailStep(page, `${prefix}-invitation-email`) : check(page));
  await page.getByRole('link', { name: 'Set your password' }).click();
  await page.waitForURL(`${firmOrigin(slug)}/reset`);
  await page.getByRole('heading', { name: 'Set your password' }).waitFor();
  const password = await secret(`${slug} administrator passphrase`);
  await (prefix ? step(page, `${prefix}-set-first-password`) : check(page));
  await choosePassword(page, password, 'Set password');
  await page.waitForURL(atPath('/staff/login'));
  await (prefix ? step(page, `${prefix}-staff-sign-in`) : check(page));
  await submitSignIn(page, admin, password);
  await page.waitForURL(atPath('/staff/workspaces'));
  await page.getByRole('heading', { name: 'All workspaces' }).waitFor();
  if (!prefix) await check(page);
  return { admin, password };
}

/// The accessible name of the focused element, roughly as a screen reader says it.
function focusedName() {
  const element = document.activeElement;
  if (!element || element === document.body) return '';
  const label = element.getAttribute('aria-label')
    ?? element.labels?.[0]?.textContent
    ?? element.textContent;
  return (label ?? '').trim();
}

/// Waits until the page has put the focus on `name` by itself (`autofocus`, which
/// Chromium applies at its next rendering, possibly after the load event): typing
/// before then would land nowhere.
export async function focusIsOn(page, name) {
  await page.waitForFunction(`(${focusedName})() === ${JSON.stringify(name)}`);
}

/// Presses Tab until the focused element's accessible name matches `name`: what a
/// keyboard user does to reach a control.
export async function tabTo(page, name, limit = 60) {
  for (let presses = 0; presses < limit; presses += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(`(${focusedName})()`);
    if (typeof name === 'string' ? focused === name : name.test(focused)) return;
  }
  assert.fail(`${limit} presses of Tab never reached "${name}" on ${page.url()}`);
}

// End-to-end flows against the real `latchkey` binary in headless Chromium.
// `cargo xtask e2e` starts the server and passes its address in LATCHKEY_E2E_ORIGIN
// (for example http://acme.localhost:41234), then runs this file with node's test runner.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const origin = process.env.LATCHKEY_E2E_ORIGIN;
if (!origin) throw new Error('LATCHKEY_E2E_ORIGIN is not set; run `cargo xtask e2e`');

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

async function newPage() {
  const context = await browser.newContext();
  return context.newPage();
}

test('staff walk from sign-in to the Reset Password buttons', async () => {
  const page = await newPage();
  await page.goto(`${origin}/staff/login`);
  assert.equal(await page.locator('h1').textContent(), 'Sign in');
  await page.getByLabel('Email').fill('admin@acme.test');
  await page.getByLabel('Password').fill('acme-demo-admin-2026');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/staff/workspaces');
  assert.equal(await page.locator('h1').textContent(), 'All workspaces');
  await page.getByRole('link', { name: 'Client Settings' }).click();
  await page.waitForURL('**/staff/clients');
  assert.equal(await page.locator('h1').textContent(), 'All Firm Clients');
  await page.getByRole('link', { name: 'John A. Teague' }).click();
  await page.waitForURL('**/contacts');
  const row = page.getByRole('row', { name: /Body Boom/ });
  assert.equal(await row.getByRole('button', { name: /Reset Password/ }).count(), 1);
  const colour = await row.getByRole('button').evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(colour, 'rgb(194, 65, 12)', 'the Reset Password button is orange');
});

test('a wrong password shows one generic error', async () => {
  const page = await newPage();
  await page.goto(`${origin}/staff/login`);
  await page.getByLabel('Email').fill('admin@acme.test');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Email or password is incorrect').waitFor();
});

test('a contact signs in and sees the portal', async () => {
  const page = await newPage();
  await page.goto(`${origin}/`);
  await page.waitForURL('**/login');
  assert.equal(await page.getByRole('link', { name: 'Forgot your password?' }).count(), 1);
  assert.equal(await page.getByRole('link', { name: 'Request your credential' }).count(), 1);
  await page.getByLabel('Email').fill('john.teague@acme.test');
  await page.getByLabel('Password').fill('john-teague-demo-2026');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Welcome, John Teague').waitFor();
});

test('forgot password: figures 8 and 9', async () => {
  const page = await newPage();
  await page.goto(`${origin}/login`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('Email').fill('body.boom@acme.test');
  await page.getByRole('button', { name: 'Send Password Reset' }).click();
  await page.getByRole('dialog').getByText('Success').waitFor();
  await page.getByRole('link', { name: 'Got it' }).click();
  await page.waitForURL('**/login');
});

test('Reset Password for Body Boom, the email, a new password, sign in', async () => {
  const platform = process.env.LATCHKEY_E2E_PLATFORM;
  const staff = await newPage();
  await staff.goto(`${origin}/staff/login`);
  await staff.getByLabel('Email').fill('admin@acme.test');
  await staff.getByLabel('Password').fill('acme-demo-admin-2026');
  await staff.getByRole('button', { name: 'Sign in' }).click();
  await staff.waitForURL('**/staff/workspaces');
  await staff.getByRole('link', { name: 'Client Settings' }).click();
  await staff.getByRole('link', { name: 'John A. Teague' }).click();
  const button = staff.getByRole('row', { name: /Body Boom/ }).getByRole('button', { name: /Reset Password/ });
  await button.click();
  // The button's accessible name stays "Reset Password for Body Boom"; its text says
  // "Success" for a moment, as in the reference's figure 5.
  await staff.waitForFunction(() => [...document.querySelectorAll('button.button-reset')].some((b) => b.textContent === 'Success'));
  await staff.getByRole('row', { name: /Body Boom/ }).getByText('queued').waitFor();

  // The development mailbox shows the email; the worker delivers it within moments.
  const mail = await newPage();
  let opened = false;
  for (let attempt = 0; attempt < 50 && !opened; attempt += 1) {
    await mail.goto(`${platform}/_dev/mailbox`);
    const row = mail.getByRole('row', { name: /body\.boom@acme\.test.*Password Reset/ });
    if (await row.count() > 0) {
      await row.first().getByRole('link', { name: 'Password Reset' }).click();
      opened = true;
    } else {
      await mail.waitForTimeout(200);
    }
  }
  assert.ok(opened, 'the Password Reset email reached the development mailbox');
  const html = mail.frameLocator('iframe.mail-frame');
  await html.getByRole('link', { name: 'Reset Password' }).waitFor();
  await html.getByText(/if the button doesn.t work/i).waitFor();
  const text = await mail.locator('pre.mail-text').textContent();
  const link = text.match(/http:\/\/acme\.localhost:\d+\/reset\/\S+/)[0];

  const contact = await newPage();
  await contact.goto(link);
  await contact.waitForURL('**/reset');
  assert.equal(new URL(contact.url()).pathname, '/reset', 'the token left the address bar');
  await contact.getByLabel('New password', { exact: true }).fill('a fresh e2e passphrase');
  await contact.getByLabel('Confirm new password').fill('a fresh e2e passphrase');
  await contact.getByRole('button', { name: 'Reset Password' }).click();
  await contact.waitForURL('**/login?notice=password-changed');
  await contact.getByLabel('Email').fill('body.boom@acme.test');
  await contact.getByLabel('Password').fill('a fresh e2e passphrase');
  await contact.getByRole('button', { name: 'Sign in' }).click();
  await contact.getByText('Welcome, Body Boom').waitFor();

  // The same link again: a reset link can be used only once.
  const again = await newPage();
  await again.goto(link);
  await again.getByText('A reset link can be used only once').waitFor();
});

// Reference 000, "Resetting Password for a Contact", on the demo firm ACME Corporation:
// the staff Reset Password walk of figures 1–9 with the expired link, a used link, the
// same walk by keyboard alone, and a contact whose emails are in Italian. The tests of
// this file run one after another: each leaves the firm as the next one expects it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertEveryPageChecked, atPath, choosePassword, demo, email, emailStep, expireLinks, focusIsOn, launch, linkIn, newPage,
  openEmail, origin, secret, signIn, step, submitSignIn, tabTo,
} from './support.mjs';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/// Cells that hold times, which change every run.
function times(page) {
  return [page.locator('td:nth-child(4)'), page.locator('td.delivery')];
}

test('a wrong password shows one generic error', async () => {
  const page = await newPage(browser);
  await page.goto(`${origin}/staff/login`);
  await page.getByLabel('Email').fill(demo.admin.email);
  await page.getByLabel('Password').fill('not the password');
  await secret('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Email or password is incorrect').waitFor();
  await step(page, '000-sign-in-wrong-password');
});

test('a contact signs in and sees the portal', async () => {
  const page = await newPage(browser);
  await page.goto(`${origin}/`);
  await page.waitForURL(atPath('/login'));
  assert.equal(await page.getByRole('link', { name: 'Forgot your password?' }).count(), 1);
  assert.equal(await page.getByRole('link', { name: 'Request your credential' }).count(), 1);
  await page.getByLabel('Email').fill(demo.johnTeague.email);
  await page.getByLabel('Password').fill(demo.johnTeague.password);
  await step(page, 'portal-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Welcome, John Teague').waitFor();
  await step(page, 'portal-home');
});

let usedLink;

test('reference 000: figures 1–9, the expired link, a new password', async () => {
  // Figure 1: the firm's sign-in page.
  const staff = await newPage(browser);
  // The page's timers wait for the test's word, so "Success" is still shown when
  // pictured however slow the machine.
  await staff.clock.install();
  await staff.goto(`${origin}/staff/login`);
  assert.equal(await staff.locator('h1').textContent(), 'Sign in');
  await staff.getByLabel('Email').fill(demo.admin.email);
  await staff.getByLabel('Password').fill(demo.admin.password);
  await step(staff, '000-fig1-sign-in');
  await staff.getByRole('button', { name: 'Sign in' }).click();

  // Figures 2 and 3: the landing page is "All workspaces".
  await staff.waitForURL(atPath('/staff/workspaces'));
  await staff.getByRole('heading', { name: 'All workspaces' }).waitFor();
  await step(staff, '000-fig2-3-workspaces');

  // Figure 4: Client Settings, All Firm Clients.
  await staff.getByRole('link', { name: 'Client Settings' }).click();
  await staff.getByRole('heading', { name: 'All Firm Clients' }).waitFor();
  await step(staff, '000-fig4-clients');

  // Figure 5: the client's Contacts, the orange Reset Password button, then "Success".
  await staff.getByRole('link', { name: 'John A. Teague' }).click();
  await staff.getByRole('heading', { name: 'John A. Teague' }).waitFor();
  await staff.getByRole('link', { name: 'Contacts' }).waitFor();
  const row = staff.getByRole('row', { name: /Body Boom/ });
  const button = row.getByRole('button', { name: 'Reset Password for Body Boom' });
  assert.equal(await button.textContent(), 'Reset Password');
  const colour = await button.evaluate((element) => getComputedStyle(element).backgroundColor);
  assert.equal(colour, 'rgb(194, 65, 12)', 'the Reset Password button is orange');
  await step(staff, '000-fig5-contacts', { mask: times(staff) });
  await button.click();
  // The button's accessible name stays "Reset Password for Body Boom"; its text says
  // "Success" for a moment, as figure 5 describes.
  await staff.waitForFunction(() => [...document.querySelectorAll('button.button-reset')]
    .some((element) => element.textContent === 'Success'));
  await step(staff, '000-fig5-success', { mask: times(staff) });
  await staff.clock.runFor(2000);
  await staff.waitForFunction(() => [...document.querySelectorAll('button.button-reset')]
    .every((element) => element.textContent === 'Reset Password'));

  // Figure 6: the "Password Reset" email, its button and the link to copy.
  const sent = await email(demo.bodyBoom.email, 'Password Reset');
  const mail = await newPage(browser);
  await openEmail(mail, sent);
  await mail.getByRole('link', { name: 'Reset Password', exact: true }).waitFor();
  await mail.getByText(/if the button doesn.t work/i).waitFor();
  await emailStep(mail, '000-fig6-email');

  // Figure 7: the contact waited too long.
  await expireLinks(demo.bodyBoom.email);
  await mail.getByRole('link', { name: 'Reset Password', exact: true }).click();
  const contact = mail;
  await contact.waitForURL(atPath('/reset'));
  await contact.getByRole('heading', { name: 'This link has expired' }).waitFor();
  await step(contact, '000-fig7-expired-link');

  // Figure 8: "Reset Password" on the notification asks for a new link.
  await contact.getByRole('link', { name: 'Reset Password' }).click();
  await contact.waitForURL(atPath('/forgot-password'));
  await contact.getByLabel('Email').fill(demo.bodyBoom.email);
  await step(contact, '000-fig8-send-password-reset');
  await contact.getByRole('button', { name: 'Send Password Reset' }).click();

  // Figure 9: the "Success" dialog; "Got it" returns to the sign-in page.
  const dialog = contact.getByRole('dialog', { name: 'Success' });
  await dialog.waitFor();
  await step(contact, '000-fig9-success');
  await dialog.getByRole('link', { name: 'Got it' }).click();
  await contact.waitForURL(atPath('/login'));
  await contact.getByRole('heading', { name: 'Sign in' }).waitFor();
  await step(contact, '000-fig9-got-it-sign-in');

  // The new email's link: a new password, then signing in with it.
  const fresh = await email(demo.bodyBoom.email, 'Password Reset');
  await openEmail(contact, fresh);
  usedLink = linkIn(fresh, 'acme.localhost');
  await contact.getByRole('link', { name: 'Reset Password', exact: true }).click();
  await contact.waitForURL(atPath('/reset'));
  await contact.getByRole('heading', { name: 'Reset Password' }).waitFor();
  await step(contact, '000-reset-form');
  const password = await secret('a fresh e2e passphrase');
  await choosePassword(contact, password, 'Reset Password');
  await contact.waitForURL(atPath('/login'));
  await step(contact, '000-password-changed');
  await submitSignIn(contact, demo.bodyBoom.email, password);
  await contact.getByText('Welcome, Body Boom').waitFor();
  await step(contact, '000-signed-in');
});

test('a used link opened again says it can be used only once', async () => {
  assert.ok(usedLink, 'the walk of figures 1–9 used a link');
  const page = await newPage(browser);
  await page.goto(usedLink);
  await page.getByRole('heading', { name: 'This link was already used' }).waitFor();
  await page.getByText('A reset link can be used only once').waitFor();
  await step(page, '000-used-link');
});

test('keyboard only: staff Reset Password, then the contact sets a password', async () => {
  const staff = await newPage(browser);
  await staff.goto(`${origin}/staff/login`);
  // The email field has the focus when the page opens.
  await focusIsOn(staff, 'Email');
  await staff.keyboard.type(demo.admin.email);
  await tabTo(staff, 'Password');
  await staff.keyboard.type(demo.admin.password);
  await tabTo(staff, 'Sign in');
  await staff.keyboard.press('Enter');
  await staff.waitForURL(atPath('/staff/workspaces'));
  await tabTo(staff, 'Client Settings');
  await staff.keyboard.press('Enter');
  await staff.getByRole('heading', { name: 'All Firm Clients' }).waitFor();
  await tabTo(staff, 'John A. Teague');
  await staff.keyboard.press('Enter');
  await staff.getByRole('heading', { name: 'John A. Teague' }).waitFor();
  await tabTo(staff, 'Reset Password for John Teague');
  await staff.keyboard.press('Space');
  await staff.waitForFunction(() => [...document.querySelectorAll('button.button-reset')]
    .some((element) => element.textContent === 'Success'));

  // The contact pastes the link into the address bar and goes on by keyboard.
  const sent = await email(demo.johnTeague.email, 'Password Reset');
  const contact = await newPage(browser);
  await contact.goto(linkIn(sent, 'acme.localhost'));
  await contact.waitForURL(atPath('/reset'));
  const password = await secret('keyboard only passphrase');
  await focusIsOn(contact, 'New password');
  await contact.keyboard.type(password);
  await tabTo(contact, 'Confirm new password');
  await contact.keyboard.type(password);
  await tabTo(contact, 'Reset Password');
  await contact.keyboard.press('Enter');
  await contact.waitForURL(atPath('/login'));
  await focusIsOn(contact, 'Email');
  await contact.keyboard.type(demo.johnTeague.email);
  await tabTo(contact, 'Password');
  await contact.keyboard.type(password);
  await contact.keyboard.press('Enter');
  await contact.getByText('Welcome, John Teague').waitFor();
});

test('a contact whose language is Italian gets the Italian emails', async () => {
  const staff = await newPage(browser);
  await signIn(staff, `${origin}/staff/login`, demo.admin.email, demo.admin.password);
  await staff.waitForURL(atPath('/staff/workspaces'));
  await staff.getByRole('link', { name: 'Client Settings' }).click();
  await staff.getByRole('link', { name: 'John A. Teague' }).click();
  await staff.getByRole('link', { name: 'Add contact' }).click();
  await staff.getByLabel('Name').fill('Giulia Rossi');
  await staff.getByLabel('Email').fill('giulia.rossi@acme.test');
  await staff.getByLabel('Language').selectOption({ label: 'Italiano' });
  await step(staff, 'it-add-contact');
  await staff.getByRole('button', { name: 'Save' }).click();

  const invitation = await email('giulia.rossi@acme.test', 'Imposta la tua password');
  const mail = await newPage(browser);
  await openEmail(mail, invitation);
  await mail.getByRole('link', { name: 'Imposta la password' }).waitFor();
  assert.equal(await mail.locator('html').getAttribute('lang'), 'it');
  await emailStep(mail, 'it-invitation-email');

  await staff.goto(`${origin}/staff/clients`);
  await staff.getByRole('link', { name: 'John A. Teague' }).click();
  await staff.getByRole('button', { name: 'Reset Password for Giulia Rossi' }).click();
  const reset = await email('giulia.rossi@acme.test', 'Reimpostazione password');
  await openEmail(mail, reset);
  await mail.getByRole('link', { name: 'Reimposta password' }).waitFor();
  await mail.getByText('Se il pulsante non funziona, copia questo link nel browser:').waitFor();
  await emailStep(mail, 'it-password-reset-email');
});

test('every kind of page visited passed the accessibility check', () => {
  assertEveryPageChecked();
});

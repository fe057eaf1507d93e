// Reference 004, "Forgotten password", on a firm that chose temporary passwords: the
// sign-in page, "Forgot your password?", the email with its button and the link to
// copy, "New password sent via mail", the emailed password and the change it forces.
// Then "Request your credential", approved by the firm's staff.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  addClientAndContact, assertEveryPageChecked, atPath, check, choosePassword, email, emailStep, firmOrigin, firstSignIn, launch,
  linkIn, newPage, openEmail, provisionFirm, secret, signIn, step,
} from './support.mjs';

const firm = firmOrigin('imsiso');
const contactAddress = 'marco.bianchi@imsiso-client.test';

let browser;
/// IMS Support's administrator, signed in.
let staff;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('reference 004: "Forgot your password?" with a new password sent via mail', async () => {
  staff = await newPage(browser);
  await provisionFirm(staff, 'imsiso', 'IMS Support');

  // The firm's choice: a reset link emails a temporary password.
  await staff.getByRole('link', { name: 'Firm settings' }).click();
  await staff.getByLabel('When a contact opens a reset link')
    .selectOption({ label: 'They receive a temporary password by email' });
  await staff.getByRole('button', { name: 'Save settings' }).click();
  await staff.getByText('Settings saved.').waitFor();
  await step(staff, '004-firm-settings');

  // A client and a contact, who sets a first password from the invitation.
  await addClientAndContact(staff, 'Officine Bianchi', 'Marco Bianchi', contactAddress);
  const invitation = await email(contactAddress, 'Set your password');
  const page = await newPage(browser);
  await page.goto(linkIn(invitation, 'imsiso.localhost'));
  await page.getByRole('heading', { name: 'Set your password' }).waitFor();
  await check(page);
  await choosePassword(page, await secret('marco first passphrase'), 'Set password');

  // Step 1.2: the sign-in page, with "Forgot your password?" and "Request your credential".
  await page.waitForURL(atPath('/login'));
  await page.goto(`${firm}/login`);
  await page.getByRole('link', { name: 'Request your credential' }).waitFor();
  await step(page, '004-step2-sign-in');

  // Step 1.3: the request for a new password.
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
  await page.getByLabel('Email').fill(contactAddress);
  await step(page, '004-step3-forgot-password');
  await page.getByRole('button', { name: 'Send Password Reset' }).click();
  await page.getByRole('dialog', { name: 'Success' }).waitFor();
  await check(page);

  // Step 1.4: the email's button, and the link to copy if the button doesn't work.
  const sent = await email(contactAddress, 'Password Reset');
  await openEmail(page, sent);
  const copyable = page.getByRole('link', { name: linkIn(sent, 'imsiso.localhost') });
  await copyable.waitFor();
  await page.getByText("If the button doesn't work, copy this link into your browser:").waitFor();
  await emailStep(page, '004-step4-email');
  await page.getByRole('link', { name: 'Reset Password', exact: true }).click();
  await page.getByRole('heading', { name: 'Get a new password' }).waitFor();
  await step(page, '004-step4-get-new-password');
  await page.getByRole('button', { name: 'Send me a new password' }).click();
  await page.getByRole('heading', { name: 'New password sent via mail' }).waitFor();
  await step(page, '004-step4-new-password-sent');

  // The emailed password signs in once, and asks for a password of one's own.
  const temporary = await email(contactAddress, 'Your new password');
  const password = temporary.text.match(/^ {4}(\S+)\s*$/m)?.[1];
  assert.ok(password, `the email holds a temporary password:\n${temporary.text}`);
  await secret(password);
  await openEmail(page, temporary);
  await emailStep(page, '004-step4-password-email', { mask: [page.getByText(password, { exact: true })] });
  await signIn(page, `${firm}/login`, contactAddress, password);
  await page.waitForURL(atPath('/account/password'));
  await page.getByText('You signed in with a temporary password').waitFor();
  await step(page, '004-forced-change');
  const own = await secret('marco own passphrase');
  await page.getByLabel('Current password').fill(password);
  await choosePassword(page, own, 'Change password');
  await page.getByText('Welcome, Marco Bianchi').waitFor();
  await step(page, '004-signed-in');
});

test('"Request your credential" approved by staff, the invitation, the first sign-in', async () => {
  assert.ok(staff, 'IMS Support was provisioned');
  const visitor = await newPage(browser);
  await visitor.goto(`${firm}/login`);
  await visitor.getByRole('link', { name: 'Request your credential' }).click();
  await visitor.getByRole('heading', { name: 'Request your credential' }).waitFor();
  await visitor.getByLabel('Your name').fill('Lucia Verdi');
  await visitor.getByLabel('Email').fill('lucia.verdi@verdi.test');
  await visitor.getByLabel('Company').fill('Verdi & Co');
  await visitor.getByLabel('Message').fill('I look after the accounts of Officine Bianchi.');
  await step(visitor, 'request-credential');
  await visitor.getByRole('button', { name: 'Send request' }).click();
  await visitor.getByRole('heading', { name: 'Request sent' }).waitFor();
  await step(visitor, 'request-credential-sent');

  // The staff are told by email, and decide on the Access requests page.
  await email('admin@imsiso.test', 'New access request');
  await staff.getByRole('link', { name: 'Access requests' }).click();
  const request = staff.getByRole('article').filter({ hasText: 'Lucia Verdi' });
  await request.waitFor();
  await request.getByLabel('Client').selectOption({ label: 'Officine Bianchi' });
  await step(staff, 'request-credential-staff', { mask: [request.locator('dd').nth(2)] });
  await request.getByRole('button', { name: 'Approve' }).click();
  // Approving opens the new contact's page, under the chosen client.
  await staff.getByRole('heading', { name: 'Lucia Verdi' }).waitFor();
  await staff.getByRole('link', { name: 'Officine Bianchi · Contacts' }).waitFor();
  await step(staff, 'request-credential-approved', { mask: [staff.locator('tbody td:first-child')] });
  await staff.getByRole('link', { name: 'Access requests' }).click();
  await staff.getByText('No pending requests.').waitFor();

  const invitation = await email('lucia.verdi@verdi.test', 'Set your password');
  await openEmail(visitor, invitation);
  await visitor.getByRole('link', { name: 'Set your password' }).click();
  await visitor.getByRole('heading', { name: 'Set your password' }).waitFor();
  await firstSignIn(visitor, 'lucia.verdi@verdi.test', 'lucia first passphrase', 'Lucia Verdi');
  await step(visitor, 'request-credential-signed-in');
});

test('every kind of page visited passed the accessibility check', () => {
  assertEveryPageChecked();
});

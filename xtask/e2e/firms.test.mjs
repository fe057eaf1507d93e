// Firms as the platform's operators and people see them: a firm provisioned through
// the operator API, two firms in one browser, "Find your firm" on the platform host,
// a suspended firm and a deleted one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  addClientAndContact, assertEveryPageChecked, atPath, check, email, firmOrigin, firstSignIn, launch, linkIn, newContext, newPage,
  openEmail, operator, origin, platform, provisionFirm, step,
} from './support.mjs';

let browser;
/// The browser context in which Northwind's administrator signed in.
let northwind;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('a firm provisioned through the operator API: the invitation, the first password, sign-in', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await provisionFirm(page, 'northwind', 'Northwind Accounting', { pictures: 'firm' });
  await page.getByRole('heading', { name: 'All workspaces' }).waitFor();
  await page.getByText('0 client workspaces').waitFor();
  await step(page, 'firm-workspaces');
  northwind = page;
});

test('two firms in one browser: a session stays with its firm, a link with its host', async () => {
  assert.ok(northwind, 'Northwind was provisioned');
  const staff = northwind;

  // The administrator adds a client and a contact: the contact's invitation is a
  // link of Northwind's.
  await addClientAndContact(staff, 'Fabrikam', 'Pat Doe', 'pat.doe@fabrikam.test');
  await staff.getByRole('row', { name: /Pat Doe/ }).waitFor();
  const invitation = await email('pat.doe@fabrikam.test', 'Set your password');
  const link = linkIn(invitation, 'northwind.localhost');

  // Northwind's session, in the same browser, is nothing on ACME's host.
  const elsewhere = await staff.context().newPage();
  await elsewhere.goto(`${origin}/staff/workspaces`);
  await elsewhere.waitForURL(atPath('/staff/login'));
  await elsewhere.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await elsewhere.getByText('ACME Corporation staff portal').count(), 1);
  await staff.reload();
  await staff.getByRole('heading', { name: 'Fabrikam' }).waitFor();

  // Northwind's link on ACME's host is a link that does not exist.
  const foreign = link.replace('northwind.localhost', 'acme.localhost');
  const answer = await elsewhere.goto(foreign);
  await elsewhere.getByRole('heading', { name: 'This link is not valid' }).waitFor();
  assert.equal(answer.status(), 404);
  await step(elsewhere, 'firm-link-on-another-firm');

  // On its own host the same link still works: opening it elsewhere spent nothing.
  const contact = await newPage(browser);
  await contact.goto(link);
  await contact.getByRole('heading', { name: 'Set your password' }).waitFor();
  await firstSignIn(contact, 'pat.doe@fabrikam.test', 'northwind contact passphrase', 'Pat Doe');
  await check(contact);
});

test('"Find your firm" on the platform host', async () => {
  const page = await newPage(browser);
  await page.goto(`${platform}/`);
  await page.getByRole('heading', { name: 'Latchkey' }).waitFor();
  await step(page, 'platform-home');
  await page.getByRole('link', { name: 'Find your firm' }).click();
  await page.getByLabel('Email').fill('pat.doe@fabrikam.test');
  await step(page, 'platform-find-your-firm');
  await page.getByRole('button', { name: 'Email me my firms' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await step(page, 'platform-find-your-firm-sent');

  const found = await email('pat.doe@fabrikam.test', 'Your client portals');
  await openEmail(page, found);
  await step(page, 'platform-find-your-firm-email');
  await page.getByRole('link', { name: 'Northwind Accounting' }).click();
  await page.waitForURL((url) => url.host === `northwind.localhost:${new URL(origin).port}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
});

test('a suspended firm shows its own page; a deleted firm\'s host answers 404', async () => {
  const created = await operator('POST', '/tenants', {
    slug: 'initech', name: 'Initech Legal', admin_email: 'admin@initech.test',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const page = await newPage(browser);
  const open = await page.goto(`${firmOrigin('initech')}/login`);
  assert.equal(open.status(), 200);

  const suspended = await operator('POST', '/tenants/initech/suspend');
  assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
  for (const path of ['/login', '/staff/login', '/forgot-password']) {
    const answer = await page.goto(`${firmOrigin('initech')}${path}`);
    assert.equal(answer.status(), 403, path);
    await page.getByRole('heading', { name: 'This portal is suspended' }).waitFor();
  }
  await step(page, 'firm-suspended', { mask: [page.locator('code')] });

  const deleted = await operator('DELETE', '/tenants/initech');
  assert.ok([200, 204].includes(deleted.status), JSON.stringify(deleted.body));
  for (const path of ['/login', '/staff/login', '/']) {
    const answer = await page.goto(`${firmOrigin('initech')}${path}`);
    assert.equal(answer.status(), 404, path);
    await page.getByRole('heading', { name: 'No firm at this address' }).waitFor();
  }
  await step(page, 'firm-deleted', { mask: [page.locator('code')] });
});

test('every kind of page visited passed the accessibility check', () => {
  assertEveryPageChecked();
});

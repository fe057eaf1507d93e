// Progressive enhancement of the Reset Password buttons: post in the background and
// show "Success" for a moment, as the reference's figure 5 describes. Without
// JavaScript the form posts normally and the page shows a notice.
document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains('reset-form')) return;
  event.preventDefault();
  const button = form.querySelector('button');
  const label = button.textContent;
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      headers: { 'X-Requested-With': 'fetch', Accept: 'application/json' },
      credentials: 'same-origin',
      redirect: 'manual',
    });
    // Only the server's own word counts: a redirect followed to a sign-in page is a
    // 200 too, and nothing was sent.
    const answer = await response.json().catch(() => null);
    if (response.status === 401 && answer?.sign_in) {
      button.textContent = 'Signed out';
      window.location.assign(answer.sign_in);
      return;
    }
    if (!response.ok || answer?.status !== 'queued') throw new Error(`HTTP ${response.status}`);
    button.textContent = 'Success';
    button.classList.add('is-success');
    const delivery = form.closest('tr')?.querySelector('.delivery');
    if (delivery) delivery.textContent = 'queued';
  } catch (error) {
    button.textContent = 'Try again';
  }
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove('is-success');
    button.disabled = false;
  }, 2000);
});

// Progressive enhancement of the Reset Password buttons: post in the background and
// show "Success" for a moment, as the reference's figure 5 describes. Without
// JavaScript the form posts normally and the page shows a notice.
document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains('reset-form')) return;
  event.preventDefault();
  const button = form.querySelector('button');
  const label = button.textContent;
  // The accessible name ("Reset Password for Body Boom") must keep holding the
  // visible text while it changes, for speech input and screen readers alike.
  const name = button.getAttribute('aria-label');
  const show = (text) => {
    button.textContent = text;
    if (name) button.setAttribute('aria-label', text === label ? name : `${text}: ${name}`);
  };
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
      show('Signed out');
      window.location.assign(answer.sign_in);
      return;
    }
    if (!response.ok || answer?.status !== 'queued') throw new Error(`HTTP ${response.status}`);
    show('Success');
    button.classList.add('is-success');
    const delivery = form.closest('tr')?.querySelector('.delivery');
    if (delivery) delivery.textContent = 'queued';
  } catch (error) {
    show('Try again');
  }
  setTimeout(() => {
    show(label);
    button.classList.remove('is-success');
    button.disabled = false;
  }, 2000);
});

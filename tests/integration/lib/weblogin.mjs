// Log a Chromium page in to junction's web UI through its login form, as a
// user made for the purpose over the MI socket.  Resolves once the app is
// shown (the login form gone).
export async function webLogin(page, j, url, { user = 'webtest', role = 'admin', password = 'webtest-password-1' } = {}) {
  try { await j.addUser(user, role, password); } catch (e) { if (!e.rpc || e.rpc.code !== -32009) throw e; }
  await page.goto(url);
  await page.waitForSelector('#login-form:not([hidden])');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#app-main:not([hidden])');
}

// An app's own token check for the companion server's `verify` option, as the tests use it:
// the stand-in for a session lookup accepts "session-of-<user id>", and answers asynchronously.
export async function verify(userId, token) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return token === `session-of-${userId}`;
}

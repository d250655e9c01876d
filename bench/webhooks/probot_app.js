// The Probot side of bench/webhooks.py: a no-op handler for pull_request, so the
// measurement is Probot's own server (signature verification, routing, the event
// emitter) and nothing else. The bench copies this file to .probot/app.js (where
// package.json says "type": "module") and runs it with `probot run ./app.js`.
export default (app) => {
  app.on("pull_request", async () => {});
};

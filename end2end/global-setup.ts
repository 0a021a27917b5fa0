// The servers are started by scripts/e2e.sh; wait until they answer before any test starts.
export default async function globalSetup() {
  const urls = [process.env.BASE_URL ?? "http://127.0.0.1:18080"];
  if (process.env.AUTH_BASE_URL) urls.push(process.env.AUTH_BASE_URL);
  if (process.env.CI_BASE_URL) urls.push(process.env.CI_BASE_URL);
  for (const url of urls) {
    const deadline = Date.now() + 60_000;
    let last: unknown;
    for (;;) {
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) break;
        last = res.status;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`server at ${url} not ready: ${String(last)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

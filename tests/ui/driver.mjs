// Drives one headless Chromium page for tests/ui/browser.py: one JSON command per stdin
// line, one JSON answer per stdout line. playwright-core with Debian's chromium.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });

const ops = {
  async goto({ url }) { const resp = await page.goto(url, { waitUntil: "load" }); return { status: resp ? resp.status() : null, url: page.url() }; },
  async url() { return page.url(); },
  async wait({ selector, timeout = 15000, state = "visible" }) { await page.waitForSelector(selector, { timeout, state }); return true; },
  async waitFunction({ expression, timeout = 15000 }) { await page.waitForFunction(expression, null, { timeout }); return true; },
  async text({ selector }) { return await page.textContent(selector); },
  async attr({ selector, name }) { return await page.getAttribute(selector, name); },
  async count({ selector }) { return await page.locator(selector).count(); },
  async click({ selector }) { await page.click(selector); return true; },
  async fill({ selector, value }) { await page.fill(selector, value); return true; },
  async press({ selector, key }) { await page.press(selector, key); return true; },
  async evaluate({ expression }) { return await page.evaluate(expression); },
  async frameText({ selector, inner }) {
    const frame = await (await page.waitForSelector(selector)).contentFrame();
    await frame.waitForSelector(inner, { timeout: 15000 });
    return await frame.textContent(inner);
  },
  async screenshot({ path, fullPage = true }) { await page.screenshot({ path, fullPage }); return path; },
  async cookies() { return (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path })); },
  async clearCookies() { await context.clearCookies(); return true; },
  async problems() { return problems.splice(0); },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const cmd = JSON.parse(line);
  if (cmd.op === "close") break;
  try {
    const value = await ops[cmd.op](cmd);
    process.stdout.write(JSON.stringify({ ok: true, value }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message || err) }) + "\n");
  }
}
await browser.close();

// Opens a card server's frame page in headless Chromium and watches the card reload:
//   node watch_live_card.js URL FIRST_TEXT SECOND_TEXT
// Prints "seen FIRST_TEXT" once the framed card shows it, then waits (up to 30 s) for the
// card to show SECOND_TEXT after the test stores a new version, and prints one JSON line:
// {"second": true|false, "foreign": [requests to anything but the card server]}.
const { chromium } = require("playwright-core");

(async () => {
  const [url, first, second] = process.argv.slice(2);
  const origin = new URL(url).origin;
  const browser = await chromium.launch({
    executablePath: process.env.HEADWATER_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run"],
  });
  const foreign = [];
  try {
    const page = await browser.newPage();
    await page.route("**/*", (route) => {
      const target = route.request().url();
      if (target.startsWith(origin)) return route.continue();
      foreign.push(target);
      return route.abort();
    });
    await page.goto(url);
    const frameText = async () => {
      const frame = page.frame({ url: /\/raw\// });
      return frame ? await frame.evaluate(() => document.body.innerText).catch(() => "") : "";
    };
    const waitFor = async (text, ms) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if ((await frameText()).includes(text)) return true;
        await new Promise((r) => setTimeout(r, 200));
      }
      return false;
    };
    if (!(await waitFor(first, 15000))) throw new Error("the first version never showed");
    console.log("seen " + first);
    const ok = await waitFor(second, 30000);
    console.log(JSON.stringify({ second: ok, foreign }));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(err); process.exit(1); });

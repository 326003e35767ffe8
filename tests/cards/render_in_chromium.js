// Opens card HTML files in headless Chromium (Debian's, driven by playwright-core), with the
// network cut off, and reports what the rendered pages show.
//
//   node render_in_chromium.js '{"pages": [{"html": "a.html", "screenshot": "a.png"}]}'
//
// Prints one JSON object: {"pages": [{...facts about each page...}]}. Every request a page
// attempts (other than data: URLs) is recorded in "requests" and aborted.
const { chromium } = require("playwright-core");

async function inspect(page) {
  return page.evaluate(() => {
    const texts = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.textContent.trim());
    const charts = Array.from(document.querySelectorAll(".hw-vega"));
    return {
      title: document.title,
      h1: texts("h1"),
      headings: texts("h1, h2, h3"),
      cells: texts("td"),
      tableNotes: texts(".hw-table-note"),
      images: Array.from(document.querySelectorAll("img")).map((img) => ({
        complete: img.complete, width: img.naturalWidth, height: img.naturalHeight })),
      charts: charts.map((el) => ({
        rendered: el.getAttribute("data-rendered") === "true",
        error: el.getAttribute("data-error"),
        marks: el.querySelectorAll("svg .mark-line path, svg .mark-rect path, svg .mark-symbol path, svg .mark-area path, svg .mark-rule line").length,
      })),
      dagSteps: Array.from(document.querySelectorAll(".hw-dag g[data-step]")).map((g) => g.getAttribute("data-step")),
      currentStep: Array.from(document.querySelectorAll(".hw-dag g.current")).map((g) => g.getAttribute("data-step")),
      artifacts: Array.from(document.querySelectorAll("[data-artifact]")).map((e) => e.getAttribute("data-artifact")),
      progress: Array.from(document.querySelectorAll("progress")).map((p) => ({ value: p.value, max: p.max })),
      status: Array.from(document.querySelectorAll("[data-status]")).map((e) => e.getAttribute("data-status")),
      text: document.body.innerText,
    };
  });
}

(async () => {
  const job = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: job.executablePath || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run"],
  });
  const results = [];
  try {
    for (const item of job.pages) {
      const context = await browser.newContext({ viewport: { width: item.width || 1200, height: 900 } });
      await context.setOffline(true);
      const requests = [];
      const consoleErrors = [];
      await context.route("**/*", (route) => {
        requests.push(route.request().url());
        return route.abort();
      });
      const page = await context.newPage();
      page.on("request", (req) => {
        const url = req.url();
        if (!url.startsWith("data:") && !requests.includes(url)) requests.push(url);
      });
      page.on("console", (msg) => { if (msg.type() === "error") consoleErrors.push(msg.text()); });
      page.on("pageerror", (err) => consoleErrors.push(String(err)));
      const html = require("fs").readFileSync(item.html, "utf8");
      await page.setContent(html, { waitUntil: "load" });
      const hasCharts = await page.evaluate(() => document.querySelectorAll(".hw-vega").length > 0);
      if (hasCharts) {
        await page.waitForSelector("body[data-charts-ready]", { timeout: 20000 }).catch(() => {});
      }
      const facts = await inspect(page);
      if (item.screenshot) {
        await page.screenshot({ path: item.screenshot, fullPage: item.fullPage !== false });
      }
      results.push({ html: item.html, requests, consoleErrors, ...facts });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify({ pages: results }));
})().catch((err) => { console.error(err); process.exit(1); });

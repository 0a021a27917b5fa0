// Accessibility and small screens: axe-core's WCAG 2.1 A/AA rules (labels, names, contrast,
// landmarks) on every page in light and dark mode, a phone-sized viewport without sideways
// scrolling, and a keyboard focus order that follows the form.
import AxeBuilder from "@axe-core/playwright";
import { test, expect, type Page } from "@playwright/test";
import { ARTIFACTS, createViaApi, TaskListPage, TaskPage } from "./pages";

const PHONE = { width: 390, height: 844 };

/** Fails with a readable list of what axe found (rule, impact, the first offending elements). */
async function expectAccessible(page: Page, what: string) {
  // Wait for animations (the active timeline step pulses) to be irrelevant: axe reads computed
  // colours, so a half-faded element would be judged mid-animation.
  await page.addStyleTag({ content: "*{animation:none!important;transition:none!important}" });
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  const problems = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n    ")}`,
  );
  expect(problems, `${what}:\n${problems.join("\n")}`).toEqual([]);
}

/** On a mobile viewport Chromium widens the layout to fit overflowing content, so compare with
 * the phone's width rather than `innerWidth`. */
async function expectNoSidewaysScroll(page: Page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, "the page is wider than the phone").toBeLessThanOrEqual(PHONE.width);
}

for (const scheme of ["light", "dark"] as const) {
  test.describe(`${scheme} mode`, () => {
    test.use({ colorScheme: scheme });

    test("the list and task pages pass axe's WCAG 2.1 AA rules", async ({ page, request }) => {
      const task = await createViaApi(request, `accessible ${scheme} ${Date.now()}\nwith a second line`);
      const list = new TaskListPage(page);
      await list.goto();
      await expect(list.row(task.id)).toBeVisible();
      await expectAccessible(page, `list page (${scheme})`);

      const taskPage = new TaskPage(page);
      await taskPage.goto(task.id);
      await expectAccessible(page, `task page (${scheme})`);
    });

    test("on a phone nothing scrolls sideways", async ({ browser, request }) => {
      const context = await browser.newContext({ viewport: PHONE, colorScheme: scheme, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      const task = await createViaApi(request, `on a phone ${Date.now()}: ${"a long prompt without breaks ".repeat(6)}`);
      const list = new TaskListPage(page);
      await list.goto();
      await expect(list.row(task.id)).toBeVisible();
      await expectNoSidewaysScroll(page);
      await page.screenshot({ path: `${ARTIFACTS}/list-phone-${scheme}.png`, fullPage: true });

      const taskPage = new TaskPage(page);
      await taskPage.goto(task.id);
      await expectNoSidewaysScroll(page);
      await page.screenshot({ path: `${ARTIFACTS}/task-phone-${scheme}.png`, fullPage: true });
      await context.close();
    });
  });
}

test("a running task's page (log colours, panels) passes axe in both modes", async ({ browser, request }) => {
  const ciBase = process.env.CI_BASE_URL;
  test.skip(!ciBase, "CI_BASE_URL is not set (scripts/e2e.sh sets it)");
  test.setTimeout(120_000);
  const ESC = "\u001b";
  // octo/scratch: whatever happens to this task never touches octo/app (ci.spec counts its PRs).
  const task = await createViaApi(
    request,
    `Colourful\nWRITE a.txt a\nSTDERR ${ESC}[31mred${ESC}[0m ${ESC}[32mgreen${ESC}[0m ${ESC}[33myellow${ESC}[0m ${ESC}[34mblue${ESC}[0m ${ESC}[2mdim${ESC}[0m\nCHATTY 60`,
    "octo/scratch",
    ciBase,
  );
  try {
    for (const scheme of ["light", "dark"] as const) {
      const context = await browser.newContext({ baseURL: ciBase, colorScheme: scheme });
      try {
        const page = await context.newPage();
        const taskPage = new TaskPage(page);
        await taskPage.goto(task.id);
        await expect(page.locator("[data-testid=event][data-category=agent]").first()).toBeVisible({ timeout: 60_000 });
        await expectAccessible(page, `running task page (${scheme})`);
        await page.screenshot({ path: `${ARTIFACTS}/task-running-${scheme}.png`, fullPage: true });
      } finally {
        await context.close();
      }
    }
  } finally {
    await request.post(`${ciBase}/api/tasks/${task.id}/cancel`);
  }
});

test("the keyboard reaches the form in reading order", async ({ page }) => {
  const list = new TaskListPage(page);
  await list.goto();
  const order: string[] = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? document.activeElement?.tagName ?? ""));
  }
  const at = (id: string) => order.indexOf(id);
  expect(at("repo-input"), order.join(" → ")).toBeGreaterThanOrEqual(0);
  expect(at("repo-input")).toBeLessThan(at("prompt-input"));
  expect(at("prompt-input")).toBeLessThan(at("create-submit"));
  // What has focus is visible.
  await page.getByTestId("prompt-input").focus();
  const outline = await page.getByTestId("prompt-input").evaluate((el) => {
    const style = getComputedStyle(el);
    return `${style.outlineStyle} ${style.boxShadow}`;
  });
  expect(outline).not.toBe("none none");
});

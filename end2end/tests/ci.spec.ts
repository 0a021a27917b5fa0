// The whole product in a browser: a real Docker container with the fake Amp CLI, and a fake
// GitHub whose simulated Actions fail until the agent fixes what the CI log says.
import { test, expect } from "@playwright/test";
import { ARTIFACTS, TaskListPage, TaskPage, watchErrors } from "./pages";

const CI_BASE_URL = process.env.CI_BASE_URL;

test.describe("the CI loop, watched live", () => {
  test.skip(!CI_BASE_URL, "CI_BASE_URL is not set (scripts/e2e.sh sets it)");
  test.use({ baseURL: CI_BASE_URL });
  test.setTimeout(180_000);

  test("a task goes red, the agent fixes it from the feedback, CI turns green, the PR link appears", async ({ page }) => {
    const errors = watchErrors(page);
    const list = new TaskListPage(page);
    await list.goto();
    await list.create("octo/app", "Start the feature\nWRITE feature.txt started\nSAY started the feature");
    await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskPage = new TaskPage(page);
    await expect(taskPage.connection).toHaveAttribute("data-state", "live");

    // Live, without a reload: red, fixing, green, the pull request.
    const step = (label: string) => page.getByTestId("timeline-step").filter({ hasText: label });
    await expect(step("CI round 1 ✗")).toBeVisible({ timeout: 120_000 });
    await expect(step("fixing")).toBeVisible({ timeout: 60_000 });
    await expect(step("CI round 2 ✓")).toBeVisible({ timeout: 120_000 });
    await expect(taskPage.status).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
    await expect(page.getByTestId("pr-link")).toBeVisible();
    await expect(page.getByTestId("pr-link")).toContainText("/pull/1");

    // The rounds panel shows both rounds and the feedback the agent received.
    await expect(page.locator("[data-testid=ci-round][data-verdict=red]")).toHaveCount(1);
    await expect(page.locator("[data-testid=ci-round][data-verdict=green]")).toHaveCount(1);
    await page.getByTestId("ci-feedback").locator("summary").click();
    await expect(page.getByTestId("ci-feedback")).toContainText("WRITE answer.txt 42");
    await expect(page.getByTestId("usage-turn")).toHaveCount(2);
    await page.screenshot({ path: `${ARTIFACTS}/task-ci-loop.png`, fullPage: true });

    // A reload shows the same story from the history.
    await page.reload();
    await expect(step("CI round 2 ✓")).toBeVisible();
    await expect(page.getByTestId("pr-link")).toBeVisible();
    expect(errors).toEqual([]);
  });

  test("the log viewer shows colours and tells the agent from its tools and raw output; cancelling a running task stops its container", async ({ page }) => {
    const errors = watchErrors(page);
    const list = new TaskListPage(page);
    await list.goto();
    // STDERR prints a coloured line on the agent's stderr (raw output); CHATTY keeps the agent
    // talking for a minute, long enough to cancel it mid-turn.
    const ESC = "\u001b";
    await list.create(
      "octo/scratch",
      `Work slowly\nWRITE notes.txt slow\nSTDERR ${ESC}[1;31mred alert${ESC}[0m then plain\nCHATTY 60`,
    );
    await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskPage = new TaskPage(page);
    await expect(taskPage.connection).toHaveAttribute("data-state", "live");
    await expect(taskPage.status).toHaveAttribute("data-status", "running", { timeout: 60_000 });

    // Agent words, tool calls and raw output are set apart; the escape codes became colours.
    await expect(page.locator("[data-testid=event][data-category=agent]").first()).toContainText("Still working", { timeout: 30_000 });
    const tool = page.locator("[data-testid=event][data-category=tool]").first();
    await expect(tool.getByTestId("tool-name")).toHaveText("edit_file");
    const alert = taskPage.event("log").filter({ hasText: "red alert" });
    await expect(alert).toHaveAttribute("data-category", "output");
    await expect(alert.locator(".ansi-fg-1.ansi-bold")).toHaveText("red alert");
    await expect(alert).toContainText("red alert then plain");
    await expect(alert).not.toContainText("[0m");
    // Filtering matches the text as shown, not the escape codes.
    await page.getByTestId("event-filter").fill("ALERT THEN");
    await expect(taskPage.events).toHaveCount(1);
    await page.getByTestId("event-filter").fill("");
    await page.screenshot({ path: `${ARTIFACTS}/task-running.png`, fullPage: true });

    // Cancel mid-turn: asked first, then the actor stops the agent and removes the container.
    page.once("dialog", (d) => d.accept());
    await taskPage.cancel.click();
    await expect(taskPage.status).toHaveAttribute("data-status", "cancelled", { timeout: 30_000 });
    await expect(page.getByTestId("task-error")).toHaveText("cancelled by user");
    await expect(taskPage.event("container_removed")).toHaveCount(1, { timeout: 30_000 });
    await expect(taskPage.cancel).toHaveCount(0);
    await expect(page.getByTestId("retry-button")).toBeVisible();
    await expect(page.getByTestId("usage-turn").first()).toContainText("stopped");
    // The agent stopped: no more of its messages arrive.
    const said = await page.locator("[data-testid=event][data-category=agent]").count();
    await page.waitForTimeout(2_500);
    await expect(page.locator("[data-testid=event][data-category=agent]")).toHaveCount(said);
    await page.screenshot({ path: `${ARTIFACTS}/task-cancelled-running.png`, fullPage: true });
    expect(errors).toEqual([]);
  });
});

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
});

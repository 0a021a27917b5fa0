// With auth.api_tokens set, the dashboard asks for a token and then works as usual.
import { test, expect } from "@playwright/test";
import { ARTIFACTS, TaskListPage } from "./pages";

const AUTH_BASE_URL = process.env.AUTH_BASE_URL;
const AUTH_TOKEN = process.env.AUTH_TOKEN ?? "";

test.describe("API token login", () => {
  test.skip(!AUTH_BASE_URL, "AUTH_BASE_URL is not set (scripts/e2e.sh sets it)");
  test.use({ baseURL: AUTH_BASE_URL });

  test("a wrong token is refused, the right one unlocks the dashboard", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByTestId("login-required")).toBeVisible();
    await page.screenshot({ path: `${ARTIFACTS}/login.png`, fullPage: true });

    await page.getByTestId("token-input").fill("definitely-not-the-token");
    await page.getByTestId("login-submit").click();
    await expect(page.getByTestId("login-error")).toBeVisible();

    await page.getByTestId("token-input").fill(AUTH_TOKEN);
    await page.getByTestId("login-submit").click();
    const list = new TaskListPage(page);
    await list.waitLive();
    await expect(page.getByTestId("login-required")).toHaveCount(0);

    await list.create("octo/secured", "behind a token");
    await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
    await expect(page.getByTestId("status-badge")).toHaveAttribute("data-status", "queued");
  });
});

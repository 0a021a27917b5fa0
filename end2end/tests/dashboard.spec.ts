// The first dashboard, used as a person would: create a task, see it listed, see its events arrive live.
import { test, expect } from "@playwright/test";
import { ARTIFACTS, createViaApi, TaskListPage, TaskPage, watchErrors } from "./pages";

test("create a task in the browser, land on its page, find it in the list", async ({ page }) => {
  const errors = watchErrors(page);
  const list = new TaskListPage(page);
  await list.goto();
  await page.screenshot({ path: `${ARTIFACTS}/list-empty-or-existing.png`, fullPage: true });

  const prompt = `Add a --version flag ${Date.now()}`;
  await list.create("octocat/hello-world", prompt);
  await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
  const taskPage = new TaskPage(page);
  await expect(page.getByTestId("task-prompt")).toHaveText(prompt);
  await expect(taskPage.status).toHaveAttribute("data-status", "queued");
  await expect(taskPage.event("task_created")).toHaveCount(1);
  await expect(taskPage.connection).toHaveAttribute("data-state", "live");
  await page.screenshot({ path: `${ARTIFACTS}/task-page.png`, fullPage: true });

  const id = page.url().split("/").pop()!;
  await page.getByTestId("home-link").click();
  await expect(list.row(id)).toBeVisible();
  await expect(list.row(id).getByTestId("status-badge")).toHaveAttribute("data-status", "queued");
  expect(errors).toEqual([]);
});

test("validation errors appear next to their fields and nothing is created", async ({ page, request }) => {
  const errors = watchErrors(page);
  const list = new TaskListPage(page);
  await list.goto();
  const before = (await (await request.get("/api/tasks?limit=200")).json()).tasks.length;

  await list.create("not a repo", "   ");
  await expect(page.getByTestId("repo-error")).toContainText("owner/name");
  await expect(page.getByTestId("prompt-error")).toContainText("must not be empty");
  await page.getByText("Options").click();
  await page.getByTestId("max-iterations-input").fill("lots");
  await list.repo.fill("octo/fine");
  await list.prompt.fill("now valid, except the rounds");
  await list.submit.click();
  await expect(page.getByTestId("max-iterations-error")).toContainText("whole number");
  await expect(page.getByTestId("repo-error")).toBeEmpty();
  await page.screenshot({ path: `${ARTIFACTS}/validation-errors.png`, fullPage: true });
  await expect(page).toHaveURL(/\/$/);

  const after = (await (await request.get("/api/tasks?limit=200")).json()).tasks.length;
  expect(after).toBe(before);
  expect(errors).toEqual([]);
});

test("the list updates live: new tasks appear and badges change without a reload", async ({ page, request }) => {
  const list = new TaskListPage(page);
  await list.goto();
  const task = await createViaApi(request, `created elsewhere ${Date.now()}`);
  await expect(list.row(task.id)).toBeVisible();
  await expect(list.row(task.id).getByTestId("status-badge")).toHaveAttribute("data-status", "queued");

  const r = await request.post(`/api/tasks/${task.id}/cancel`);
  expect(r.status()).toBe(200);
  await expect(list.row(task.id).getByTestId("status-badge")).toHaveAttribute("data-status", "cancelled");
  await page.screenshot({ path: `${ARTIFACTS}/list-live.png`, fullPage: true });
});

test("a task page follows its events live, and cancelling asks first", async ({ page, request, context }) => {
  const task = await createViaApi(request, `watch my events ${Date.now()}`);
  const taskPage = new TaskPage(page);
  await taskPage.goto(task.id);

  // A second tab on the same task stays in sync.
  const other = new TaskPage(await context.newPage());
  await other.goto(task.id);

  // Declining the confirmation changes nothing.
  page.once("dialog", (d) => d.dismiss());
  await taskPage.cancel.click();
  await expect(taskPage.status).toHaveAttribute("data-status", "queued");

  page.once("dialog", (d) => d.accept());
  await taskPage.cancel.click();
  await expect(taskPage.status).toHaveAttribute("data-status", "cancelled");
  await expect(taskPage.event("status_changed")).toHaveCount(1);
  await expect(page.getByTestId("task-error")).toHaveText("cancelled by user");
  await expect(taskPage.cancel).toHaveCount(0);
  await expect(other.status).toHaveAttribute("data-status", "cancelled");
  await expect(other.event("status_changed")).toHaveCount(1);

  // A reload shows the same history, once.
  await page.reload();
  await expect(taskPage.events).toHaveCount(2);
  await expect(taskPage.connection).toHaveAttribute("data-state", "live");
  await expect(taskPage.events).toHaveCount(2);
});

test("a dropped connection shows reconnecting, then resumes after the last event without duplicates", async ({ page, request }) => {
  const errors = watchErrors(page);
  const task = await createViaApi(request, `reconnect ${Date.now()}`);
  // The first event stream ends at once (as when a proxy or the server drops it); the browser's
  // reconnect is held until the task has changed, then reaches the real server.
  let streams = 0;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/api\/tasks\/[0-9a-f-]+\/events/, async (route) => {
    streams += 1;
    if (streams === 1) {
      // It repeats the first event, which the page already has from the server render.
      const first = { id: 1, task_id: task.id, seq: 1, at: (task as any).created_at, type: "task_created", task };
      const body = `retry: 200\nevent: task_created\nid: 1\ndata: ${JSON.stringify(first)}\n\n`;
      await route.fulfill({ status: 200, headers: { "content-type": "text/event-stream" }, body });
    } else {
      await released;
      await route.continue();
    }
  });
  const taskPage = new TaskPage(page);
  await page.goto(`/tasks/${task.id}`);
  await expect(taskPage.connection).toHaveAttribute("data-state", "reconnecting");
  await expect(taskPage.events).toHaveCount(1);

  expect((await request.post(`/api/tasks/${task.id}/cancel`)).status()).toBe(200);
  await expect(taskPage.connection).toHaveAttribute("data-state", "reconnecting");
  release();

  await expect(taskPage.connection).toHaveAttribute("data-state", "live");
  await expect(taskPage.status).toHaveAttribute("data-status", "cancelled");
  await expect(taskPage.events).toHaveCount(2);
  const seqs = await taskPage.events.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-seq")));
  expect(seqs).toEqual(["1", "2"]);
  expect(streams).toBeGreaterThanOrEqual(2);
  expect(errors).toEqual([]);
});

test("filters narrow the list", async ({ page, request }) => {
  const a = await createViaApi(request, "filter me", "filter/alpha");
  const b = await createViaApi(request, "not me", "filter/beta");
  await request.post(`/api/tasks/${b.id}/cancel`);
  const list = new TaskListPage(page);
  await list.goto("?repo=filter%2Falpha");
  await expect(list.row(a.id)).toBeVisible();
  await expect(list.row(b.id)).toHaveCount(0);
  await page.locator('[data-testid=status-filter] a[data-status="cancelled"]').click();
  await expect(list.row(a.id)).toHaveCount(0);
});

test("pages read without JavaScript", async ({ browser, request }) => {
  const task = await createViaApi(request, `server rendered ${Date.now()}`);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.locator(`[data-testid=task-row][data-task-id="${task.id}"]`)).toBeVisible();
  await page.goto(`/tasks/${task.id}`);
  await expect(page.getByTestId("task-prompt")).toContainText("server rendered");
  await expect(page.locator("[data-testid=event][data-kind=task_created]")).toHaveCount(1);
  await context.close();
});

test("search, counts per status, and relative times", async ({ page, request }) => {
  const marker = `needle-${Date.now()}`;
  const hit = await createViaApi(request, `Find the ${marker} in the haystack`, "search/one");
  await createViaApi(request, "something else entirely", "search/one");
  const list = new TaskListPage(page);
  await list.goto(`?q=${marker}`);
  await expect(list.rows).toHaveCount(1);
  await expect(list.row(hit.id)).toBeVisible();
  await expect(page.getByTestId("status-counts")).toHaveText("1 queued");
  // Hydrated: absolute server-rendered times turn relative.
  await expect(list.row(hit.id).getByTestId("task-time")).toHaveText("just now");
  // Counts follow live changes.
  await list.waitLive();
  await request.post(`/api/tasks/${hit.id}/cancel`);
  await expect(page.getByTestId("status-counts")).toHaveText("1 cancelled");
  await createViaApi(request, `another ${marker}`, "search/two");
  await expect(page.getByTestId("status-counts")).toHaveText("1 queued · 1 cancelled");

  // The search box drives the same filter (a GET form: works without JavaScript too).
  await list.goto();
  await page.getByTestId("search-filter").fill(marker.toUpperCase());
  await page.getByTestId("search-filter").press("Enter");
  await expect(page).toHaveURL(new RegExp(`q=${marker.toUpperCase()}`));
  await expect(list.rows).toHaveCount(2);
});

test("a finished task can be retried, its log downloaded and its events filtered", async ({ page, request }) => {
  const task = await createViaApi(request, `retry me ${Date.now()}`, "octo/retry");
  await request.post(`/api/tasks/${task.id}/cancel`);
  const taskPage = new TaskPage(page);
  await taskPage.goto(task.id);
  await expect(page.getByTestId("elapsed")).toHaveText(/^\d+s$/);

  // The download is the whole history as text.
  const href = await page.getByTestId("download-log").getAttribute("href");
  const log = await (await request.get(href!)).text();
  expect(log).toContain("task_created");
  expect(log).toContain("queued → cancelled: cancelled by user");

  // Filtering narrows the list; the list follows new events by default.
  await expect(taskPage.events).toHaveCount(2);
  await page.getByTestId("event-filter").fill("cancelled");
  await expect(taskPage.events).toHaveCount(1);
  await expect(page.getByTestId("follow-state")).toHaveAttribute("data-following", "true");

  // Retry asks first, then opens a new task with the same prompt.
  page.once("dialog", (d) => d.accept());
  await page.getByTestId("retry-button").click();
  await expect(page).not.toHaveURL(new RegExp(task.id));
  await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("task-prompt")).toHaveText(/^retry me /);
  await expect(taskPage.status).toHaveAttribute("data-status", "queued");
});

test("Ctrl+Enter submits, and the form remembers recent repositories", async ({ page }) => {
  const list = new TaskListPage(page);
  await list.goto();
  const repo = `recent/repo-${Date.now()}`;
  await list.repo.fill(repo);
  await list.prompt.fill("submitted from the keyboard");
  await list.prompt.press("Control+Enter");
  await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
  await list.goto();
  await expect(page.locator(`#recent-repos option[value="${repo}"]`)).toHaveCount(1);
  await expect(list.repo).toHaveAttribute("list", "recent-repos");
});

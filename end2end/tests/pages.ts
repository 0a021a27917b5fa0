// Page objects: what a person sees and does, addressed by data-testid.
import { expect, type APIRequestContext, type Locator, type Page } from "@playwright/test";

export const ARTIFACTS = process.env.ARTIFACTS_DIR ?? "artifacts";

/** Collects console errors and page errors, so a test can assert the page ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

/** Creates a task through the REST API (on `baseURL` when given, else the test's server). */
export async function createViaApi(request: APIRequestContext, prompt: string, repo = "octo/e2e", baseURL = "") {
  const r = await request.post(`${baseURL}/api/tasks`, { data: { prompt, repo } });
  expect(r.status()).toBe(201);
  return (await r.json()) as { id: string; status: string };
}

export class TaskListPage {
  readonly repo: Locator;
  readonly prompt: Locator;
  readonly submit: Locator;
  readonly rows: Locator;
  readonly connection: Locator;

  constructor(readonly page: Page) {
    this.repo = page.getByTestId("repo-input");
    this.prompt = page.getByTestId("prompt-input");
    this.submit = page.getByTestId("create-submit");
    this.rows = page.getByTestId("task-row");
    this.connection = page.getByTestId("connection");
  }

  async goto(query = "") {
    await this.page.goto(`/${query}`);
    await this.waitLive();
  }

  /** Hydrated and following the live stream. */
  async waitLive() {
    await expect(this.connection).toHaveAttribute("data-state", "live");
  }

  row(taskId: string): Locator {
    return this.page.locator(`[data-testid=task-row][data-task-id="${taskId}"]`);
  }

  async create(repo: string, prompt: string) {
    await this.repo.fill(repo);
    await this.prompt.fill(prompt);
    await this.submit.click();
  }
}

export class TaskPage {
  readonly status: Locator;
  readonly events: Locator;
  readonly connection: Locator;
  readonly cancel: Locator;

  constructor(readonly page: Page) {
    this.status = page.getByTestId("task-page").getByTestId("status-badge");
    this.events = page.getByTestId("event");
    this.connection = page.getByTestId("connection");
    this.cancel = page.getByTestId("cancel-button");
  }

  async goto(id: string) {
    await this.page.goto(`/tasks/${id}`);
    await expect(this.connection).toHaveAttribute("data-state", "live");
  }

  event(kind: string): Locator {
    return this.page.locator(`[data-testid=event][data-kind="${kind}"]`);
  }
}

/// The Jobs page's script: plain JavaScript, no build step, no libraries. It asks for the API key
/// once (kept in `sessionStorage`), reads the API, polls for live progress, and starts retries.
enum PageScript {
    static let source = #"""
"use strict";
(function () {
  const KEY = "jobengine.apikey";
  const body = document.body;
  const needsKey = body.dataset.auth === "required";
  const message = document.getElementById("message");
  const keyForm = document.getElementById("key-form");
  let timer = null;

  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? "error" : "";
  }

  async function api(method, path, payload) {
    const headers = { "Accept": "application/json" };
    if (needsKey) headers["apikey"] = sessionStorage.getItem(KEY) || "";
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: payload === undefined ? undefined : JSON.stringify(payload)
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      askForKey((data.error && data.error.message) || "The API key was not accepted.");
      throw new Error("unauthorized");
    }
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || ("HTTP " + response.status));
    }
    return data;
  }

  function askForKey(reason) {
    if (timer) { clearInterval(timer); timer = null; }
    keyForm.hidden = false;
    if (reason) say(reason, true);
    document.getElementById("api-key").focus();
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = document.getElementById("api-key").value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    keyForm.hidden = true;
    say("");
    start();
  });

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 60) return Math.round(seconds) + " s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  // ---- The list of jobs ----

  async function refreshJobs() {
    const data = await api("GET", "/api/pipelines/jobs");
    const tbody = document.querySelector("#jobs tbody");
    tbody.replaceChildren();
    if (data.jobs.length === 0) {
      const row = tbody.insertRow();
      const td = cell(row, "No jobs yet. Submit one with engine-run run SPEC.");
      td.colSpan = 10;
    }
    for (const job of data.jobs) {
      const row = tbody.insertRow();
      row.id = "job-" + job.id;
      const name = document.createElement("td");
      const link = document.createElement("a");
      link.href = "/jobs/" + job.id;
      link.textContent = job.name;
      name.appendChild(link);
      row.appendChild(name);
      cell(row, job.state, "state state-" + job.state.replace(" ", "-"));
      for (const status of ["pending", "running", "succeeded", "failed", "cancelled"]) {
        cell(row, String(job.items[status]), "count count-" + status);
      }
      const total = Object.values(job.items).reduce((a, b) => a + b, 0);
      const done = job.items.succeeded;
      const progressCell = document.createElement("td");
      const progress = document.createElement("progress");
      progress.max = Math.max(total, 1);
      progress.value = done;
      progress.setAttribute("aria-label", done + " of " + total + " items succeeded");
      progressCell.appendChild(progress);
      progressCell.appendChild(document.createTextNode(" " + done + "/" + total));
      row.appendChild(progressCell);
      cell(row, job.collected + " / " + job.ingested);
      cell(row, ago(job.seconds_since_progress));
    }
  }

  // ---- One job and its work items ----

  const jobID = body.dataset.jobId;
  const selected = new Set();
  const pageStarts = [null];   // the cursor of each page seen so far; the last is the current page
  let nextCursor = null;
  let pendingRetry = [];

  function statusFilter() { return document.getElementById("status-filter").value; }

  async function refreshJob() {
    const job = await api("GET", "/api/pipelines/jobs/" + jobID);
    document.getElementById("job-title").textContent = job.name;
    document.title = job.name + " · JobEngine";
    const counts = ["pending", "running", "succeeded", "failed", "cancelled"]
      .map((status) => job.items[status] + " " + status).join(", ");
    document.getElementById("job-summary").textContent =
      "State: " + job.state + ". Items: " + counts + ". Documents collected " + job.collected +
      ", ingested " + job.ingested + ". Last progress " + ago(job.seconds_since_progress) + ".";

    let path = "/api/pipelines/jobs/" + jobID + "/work-items?limit=200";
    if (statusFilter()) path += "&status=" + encodeURIComponent(statusFilter());
    const cursor = pageStarts[pageStarts.length - 1];
    if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
    const page = await api("GET", path);
    nextCursor = page.next_cursor;
    document.getElementById("next-page").disabled = !nextCursor;
    document.getElementById("previous-page").disabled = pageStarts.length < 2;
    renderItems(page.work_items);
  }

  function renderItems(items) {
    const tbody = document.querySelector("#items tbody");
    tbody.replaceChildren();
    if (items.length === 0) {
      const td = cell(tbody.insertRow(), "No work items to show.");
      td.colSpan = 9;
    }
    const shown = new Set();
    for (const item of items) {
      const row = tbody.insertRow();
      row.id = "item-" + item.id;
      row.dataset.status = item.status;
      const retryable = item.status === "failed" || item.status === "cancelled";
      const pick = document.createElement("td");
      if (retryable) {
        shown.add(item.id);
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "select-item";
        box.value = item.id;
        box.checked = selected.has(item.id);
        box.setAttribute("aria-label", "Select " + item.name);
        box.addEventListener("change", () => {
          if (box.checked) selected.add(item.id); else selected.delete(item.id);
          updateSelection();
        });
        pick.appendChild(box);
      }
      row.appendChild(pick);
      cell(row, item.name, "name");
      cell(row, item.status, "status status-" + item.status);
      cell(row, item.phase, "phase");
      cell(row, String(item.attempt), "attempt");
      cell(row, String(item.collected), "collected");
      cell(row, String(item.ingested), "ingested");
      cell(row, String(item.collected_total), "collected-total");
      cell(row, item.error ? (item.error_kind || "error") + ": " + item.error : "", "error-text");
    }
    // Items that are no longer retryable (their retry started) drop out of the selection.
    for (const id of Array.from(selected)) if (!shown.has(id)) selected.delete(id);
    updateSelection();
  }

  function updateSelection() {
    const button = document.getElementById("retry-selected");
    button.disabled = selected.size === 0;
    button.textContent = selected.size === 0 ? "Retry selected…" : "Retry " + selected.size + " selected…";
  }

  function openRetryDialog(ids, what) {
    if (ids.length === 0) { say("There are no failed items to retry."); return; }
    pendingRetry = ids;
    document.getElementById("retry-count").textContent =
      "Retry " + ids.length + " " + what + (ids.length === 1 ? " item." : " items.");
    document.getElementById("retry-dialog").showModal();
  }

  async function allFailedIDs() {
    const ids = [];
    let cursor = null;
    do {
      let path = "/api/pipelines/jobs/" + jobID + "/work-items?status=failed&limit=1000";
      if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
      const page = await api("GET", path);
      for (const item of page.work_items) ids.push(item.id);
      cursor = page.next_cursor;
    } while (cursor);
    return ids;
  }

  async function retry(ids, mode) {
    let total = 0;
    const skipped = [];
    // The API takes at most 1000 ids per request.
    for (let i = 0; i < ids.length; i += 1000) {
      const answer = await api("PUT", "/api/pipelines/work-items/retry?type=" + mode,
                               { work_item_ids: ids.slice(i, i + 1000) });
      total += answer.total;
      if (answer.skipped) skipped.push(...answer.skipped);
    }
    let text = "Retry (" + mode + ") started for " + total + " of " + ids.length +
      (ids.length === 1 ? " item." : " items.");
    if (skipped.length > 0) {
      text += " Skipped: " + skipped.slice(0, 5).map((s) => s.id.slice(0, 8) + " (" + s.reason + ")").join("; ") +
        (skipped.length > 5 ? "; and " + (skipped.length - 5) + " more." : ".");
    }
    say(text, false);
    for (const id of ids) selected.delete(id);
    await refreshJob();
  }

  function wireJobPage() {
    document.getElementById("status-filter").addEventListener("change", () => {
      pageStarts.length = 1;
      refresh();
    });
    document.getElementById("next-page").addEventListener("click", () => {
      if (nextCursor) { pageStarts.push(nextCursor); refresh(); }
    });
    document.getElementById("previous-page").addEventListener("click", () => {
      if (pageStarts.length > 1) { pageStarts.pop(); refresh(); }
    });
    document.getElementById("select-all").addEventListener("change", (event) => {
      for (const box of document.querySelectorAll(".select-item")) {
        box.checked = event.target.checked;
        if (box.checked) selected.add(box.value); else selected.delete(box.value);
      }
      updateSelection();
    });
    document.getElementById("retry-selected").addEventListener("click", () => {
      openRetryDialog(Array.from(selected), "selected");
    });
    document.getElementById("retry-all-failed").addEventListener("click", async () => {
      document.getElementById("job-menu").open = false;
      try { openRetryDialog(await allFailedIDs(), "failed"); } catch (error) { report(error); }
    });
    document.getElementById("cancel-job").addEventListener("click", async () => {
      document.getElementById("job-menu").open = false;
      if (!window.confirm("Cancel this job? Pending items are cancelled now, running items at their next checkpoint.")) return;
      try {
        const answer = await api("PATCH", "/api/pipelines/jobs/" + jobID + "/state/cancelled");
        say("Job cancelled: " + answer.cancelled_pending + " pending items cancelled; running items stop at their next checkpoint.");
        await refreshJob();
      } catch (error) { report(error); }
    });
    const dialog = document.getElementById("retry-dialog");
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "retry") return;
      const mode = document.querySelector("input[name=mode]:checked").value;
      try { await retry(pendingRetry, mode); } catch (error) { report(error); }
    });
  }

  function report(error) {
    if (error.message !== "unauthorized") say("Could not reach the API: " + error.message, true);
  }

  async function refresh() {
    try {
      if (body.dataset.page === "jobs") await refreshJobs();
      if (body.dataset.page === "job") await refreshJob();
    } catch (error) {
      report(error);
    }
  }

  function start() {
    refresh();
    if (!timer) timer = setInterval(refresh, body.dataset.page === "job" ? 1000 : 2000);
  }

  if (body.dataset.page === "job") wireJobPage();
  if (body.dataset.page === "none") return;
  if (needsKey && !sessionStorage.getItem(KEY)) askForKey(); else start();
})();
"""#
}

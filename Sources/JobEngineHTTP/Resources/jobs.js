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

  async function api(method, path, payload, idempotencyKey) {
    const headers = { "Accept": "application/json" };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
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

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  // Rows are updated in place while the same records are shown, so polling neither moves the
  // keyboard focus nor disturbs a screen reader; the table is rebuilt only when the rows change.
  function syncRows(tbody, records, emptyText, columns, makeRow, updateRow) {
    const shown = Array.from(tbody.rows).map((row) => row.dataset.id || "");
    const same = shown.length === records.length && records.every((record, i) => record.id === shown[i]);
    if (!same) {
      tbody.replaceChildren();
      if (records.length === 0) {
        const td = cell(tbody.insertRow(), emptyText);
        td.colSpan = columns;
      }
      for (const record of records) {
        const row = makeRow(record);
        row.dataset.id = record.id;
        tbody.appendChild(row);
      }
    }
    records.forEach((record, i) => updateRow(tbody.rows[i], record));
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
    syncRows(document.querySelector("#jobs tbody"), data.jobs, "No jobs yet. Submit one with engine-run run SPEC.", 10,
      (job) => {
        const row = document.createElement("tr");
        row.id = "job-" + job.id;
        const name = document.createElement("td");
        const link = document.createElement("a");
        link.href = "/jobs/" + job.id;
        name.appendChild(link);
        row.appendChild(name);
        cell(row, "", "state");
        for (const status of ["pending", "running", "succeeded", "failed", "cancelled"]) cell(row, "", "count count-" + status);
        const progressCell = cell(row, "", "progress");
        progressCell.appendChild(document.createElement("progress"));
        progressCell.appendChild(document.createElement("span"));
        cell(row, "", "documents");
        cell(row, "", "last-progress");
        return row;
      },
      (row, job) => {
        setText(row.cells[0].firstChild, job.name);
        setText(row.cells[1], job.state);
        row.cells[1].className = "state state-" + job.state.replace(" ", "-");
        ["pending", "running", "succeeded", "failed", "cancelled"].forEach((status, i) => {
          setText(row.cells[2 + i], String(job.items[status]));
        });
        const total = Object.values(job.items).reduce((a, b) => a + b, 0);
        const done = job.items.succeeded;
        const progress = row.cells[7].querySelector("progress");
        progress.max = Math.max(total, 1);
        progress.value = done;
        progress.setAttribute("aria-label", done + " of " + total + " items succeeded");
        setText(row.cells[7].querySelector("span"), " " + done + "/" + total);
        setText(row.cells[8], job.collected + " / " + job.ingested);
        setText(row.cells[9], ago(job.seconds_since_progress));
      });
  }

  // ---- One job and its work items ----

  const jobID = body.dataset.jobId;
  // The selected items' ids, each with the kind it failed as (a crash loop is called out before a retry).
  const selected = new Map();
  const PAGE_SIZE = 200;
  const pageStarts = [null];   // the cursor of each page seen so far; the last is the current page
  let nextCursor = null;
  let pendingRetry = [];

  function statusFilter() { return document.getElementById("status-filter").value; }
  function kindFilter() { return document.getElementById("kind-filter").value; }
  function errorFilter() { return document.getElementById("error-filter").value.trim(); }

  // The filter bar as the retry API's filter: the statuses a retry starts from among those shown.
  function matchingFilter() {
    const status = statusFilter();
    const filter = { job_id: jobID };
    // Cancelled items have no error kind: with a kind chosen, only failed ones can match.
    if (status === "cancelled" && kindFilter()) return null;
    if (status === "failed" || status === "cancelled") filter.status = [status];
    else if (status === "") filter.status = kindFilter() ? ["failed"] : ["failed", "cancelled"];
    else return null;  // running, pending or succeeded items are not retried
    if (kindFilter()) filter.error_kind = kindFilter();
    if (errorFilter()) filter.error_contains = errorFilter();
    return filter;
  }

  function describeFilter(filter) {
    let text = filter.status.join(" or ");
    if (filter.error_kind) text += ", " + filter.error_kind.replace("_", " ");
    if (filter.error_contains) text += ", with \u201c" + filter.error_contains + "\u201d in the error";
    return text;
  }

  // An Idempotency-Key for one retry: sent again (a time-out), it starts nothing twice.
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function refreshJob() {
    const job = await api("GET", "/api/pipelines/jobs/" + jobID);
    document.getElementById("job-title").textContent = job.name;
    document.title = job.name + " · JobEngine";
    const counts = ["pending", "running", "succeeded", "failed", "cancelled"]
      .map((status) => job.items[status] + " " + status).join(", ");
    document.getElementById("job-summary").textContent =
      "State: " + job.state + ". Items: " + counts + ". Documents collected " + job.collected +
      ", ingested " + job.ingested + ". Last progress " + ago(job.seconds_since_progress) + ".";

    let narrowing = "";
    if (statusFilter()) narrowing += "&status=" + encodeURIComponent(statusFilter());
    if (kindFilter()) narrowing += "&error_kind=" + encodeURIComponent(kindFilter());
    if (errorFilter()) narrowing += "&error_contains=" + encodeURIComponent(errorFilter());
    document.getElementById("retry-matching").disabled = matchingFilter() === null;
    // What the list is asked to show; if it changes while the pages below are read, they are dropped.
    const view = () => [statusFilter(), kindFilter(), errorFilter(), pageStarts.length, pageStarts[pageStarts.length - 1]].join("\n");
    const asked = view();
    // A page narrowed by error text looks at 10,000 items at most: it can come back short, empty
    // even, with a cursor where its look ended. Look on a few times so the table fills; each look
    // asks only for what is missing, so the cursor stays that of the last item shown.
    let items = [];
    let cursor = pageStarts[pageStarts.length - 1];
    for (let looks = 0; looks < 5; looks++) {
      const page = await api("GET", "/api/pipelines/jobs/" + jobID + "/work-items?limit=" + (PAGE_SIZE - items.length) +
        narrowing + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      items = items.concat(page.work_items);
      cursor = page.next_cursor;
      if (!cursor || items.length >= PAGE_SIZE) break;
    }
    if (view() !== asked) return;
    nextCursor = cursor;
    document.getElementById("next-page").disabled = !nextCursor;
    document.getElementById("previous-page").disabled = pageStarts.length < 2;
    renderItems(items, nextCursor ? "No matching items in this stretch of the job; Next page looks further." : "No work items to show.");
  }

  function renderItems(items, emptyText) {
    const retryableIDs = new Set();
    const widest = Math.max(1, ...items.map((item) => item.collected));
    syncRows(document.querySelector("#items tbody"), items, emptyText, 10,
      (item) => {
        const row = document.createElement("tr");
        row.id = "item-" + item.id;
        row.appendChild(document.createElement("td"));
        for (const name of ["name", "status", "phase", "attempt", "collected", "ingested", "progress", "collected-total", "error-text"]) {
          cell(row, "", name);
        }
        const bar = document.createElement("span");
        bar.className = "bar";
        bar.setAttribute("role", "img");
        for (const part of ["collected-part", "ingested-part"]) {
          const span = document.createElement("span");
          span.className = part;
          bar.appendChild(span);
        }
        row.cells[7].appendChild(bar);
        const show = document.createElement("button");
        show.type = "button";
        show.className = "link";
        show.addEventListener("click", () => showItem(item.id));
        row.cells[1].appendChild(show);
        return row;
      },
      (row, item) => {
        row.dataset.status = item.status;
        row.className = item.status === "failed" && item.error_kind ? "kind-" + item.error_kind : "";
        const retryable = item.status === "failed" || item.status === "cancelled";
        const pick = row.cells[0];
        let box = pick.querySelector("input");
        if (retryable) {
          retryableIDs.add(item.id);
          if (!box) {
            box = document.createElement("input");
            box.type = "checkbox";
            box.className = "select-item";
            box.value = item.id;
            box.setAttribute("aria-label", "Select " + item.name);
            box.addEventListener("change", () => {
              if (box.checked) selected.set(item.id, box.dataset.kind); else selected.delete(item.id);
              updateSelection();
            });
            pick.appendChild(box);
          }
          box.dataset.kind = item.status === "failed" ? item.error_kind || "" : "";
          // A selected item's kind as it is now (it may have failed again, another way).
          if (selected.has(item.id)) selected.set(item.id, box.dataset.kind);
          box.checked = selected.has(item.id);
        } else if (box) {
          box.remove();
        }
        setText(row.cells[1].firstChild, item.name);
        row.cells[1].firstChild.setAttribute("aria-label", "History of " + item.name);
        setText(row.cells[2], item.error_kind === "crash_loop" && item.status === "failed" ? "failed (crash loop)" : item.status);
        row.cells[2].className = "status status-" + item.status;
        setText(row.cells[3], item.phase);
        setText(row.cells[4], String(item.attempt));
        setText(row.cells[5], String(item.collected));
        setText(row.cells[6], String(item.ingested));
        // The bar's length is the item's collected documents (against the widest on this page); its
        // dark part what of them reached the sink.
        const bar = row.cells[7].firstChild;
        bar.querySelector(".collected-part").style.width = (100 * item.collected / widest) + "%";
        bar.querySelector(".ingested-part").style.width = (100 * item.ingested / widest) + "%";
        bar.setAttribute("aria-label", item.ingested + " of " + item.collected + " collected documents ingested");
        // What recovering saved: documents a run resumed with instead of fetching them again.
        setText(row.cells[8], String(item.collected_total) +
          (item.not_collected_again > 0 ? " (" + item.not_collected_again + " not collected again)" : ""));
        // A failed item shows its error; a running one what its collector last said (a vendor it waits for).
        setText(row.cells[9], item.error ? (item.error_kind || "error") + ": " + item.error : (item.progress_note || ""));
      });
    // Items that are no longer retryable (their retry started) drop out of the selection.
    for (const id of Array.from(selected.keys())) if (!retryableIDs.has(id)) selected.delete(id);
    updateSelection();
  }

  function updateSelection() {
    const button = document.getElementById("retry-selected");
    button.disabled = selected.size === 0;
    button.textContent = selected.size === 0 ? "Retry selected…" : "Retry " + selected.size + " selected…";
  }

  // `pendingRetry` is what the dialog retries on confirm: listed ids, or a filter with the count
  // the server gave for it (a dry run) before asking.
  function openRetryDialog(target, count, what, crashLoops) {
    if (count === 0) { say("There are no " + what + " items to retry."); return; }
    // One Idempotency-Key per confirmed retry: a call sent again (a time-out) starts nothing twice.
    pendingRetry = Object.assign({ key: newKey() }, target);
    document.getElementById("retry-count").textContent =
      "Retry " + count + " " + what + (count === 1 ? " item." : " items.");
    // Poison items are called out: their worker died running them again and again.
    const warning = document.getElementById("retry-warning");
    warning.hidden = !(crashLoops > 0);
    warning.textContent = crashLoops > 0
      ? (crashLoops === count ? (count === 1 ? "It is" : "They are all") : crashLoops + " of them " + (crashLoops === 1 ? "is" : "are")) +
        " in a crash loop: " + (crashLoops === 1 ? "its" : "their") + " worker died running " + (crashLoops === 1 ? "it" : "them") +
        " again and again (retry.max_recoveries), and a retry may take workers down again." +
        (crashLoops < count ? " To leave them out, choose another error kind in the filter bar." : "")
      : "";
    const dialog = document.getElementById("retry-dialog");
    // Esc closes the dialog without setting returnValue: clear the last confirmation's.
    dialog.returnValue = "";
    dialog.showModal();
  }

  async function openFilterRetry(filter, what) {
    // The counts come from the server, for every matching item, not only the page shown: all of
    // them, and those in a crash loop among them.
    const count = async (asked) => {
      const preview = await api("PUT", "/api/pipelines/work-items/retry?type=recover&dry_run=true", { filter: asked });
      return preview.total + preview.skipped_total;
    };
    const total = await count(filter);
    let crashLoops = 0;
    if (filter.error_kind === "crash_loop") crashLoops = total;
    else if (!filter.error_kind && filter.status.includes("failed") && total > 0) {
      crashLoops = await count(Object.assign({}, filter, { status: ["failed"], error_kind: "crash_loop" }));
    }
    openRetryDialog({ filter, count: total }, total, what, crashLoops);
  }

  async function retry(target, mode) {
    let total = 0;
    let asked = 0;
    let skippedCount = 0;
    const skipped = [];
    const calls = target.filter
      ? [{ filter: target.filter }]
      // The API takes at most 1000 ids per request.
      : Array.from({ length: Math.ceil(target.ids.length / 1000) }, (_, i) => ({ work_item_ids: target.ids.slice(i * 1000, i * 1000 + 1000) }));
    for (const [index, payload] of calls.entries()) {
      const answer = await api("PUT", "/api/pipelines/work-items/retry?type=" + mode, payload, target.key + "-" + mode + "-" + index);
      total += answer.total;
      skippedCount += answer.skipped_total;
      if (answer.skipped) skipped.push(...answer.skipped);
    }
    asked = target.filter ? Math.max(target.count, total + skippedCount) : target.ids.length;
    let text = "Retry (" + mode + ") started for " + total + " of " + asked + (asked === 1 ? " item." : " items.");
    if (skippedCount > 0) {
      text += " Skipped " + skippedCount + ": " + skipped.slice(0, 5).map((s) => s.id.slice(0, 8) + " (" + s.reason + ")").join("; ") +
        (skippedCount > 5 ? "; and " + (skippedCount - 5) + " more." : ".");
    }
    say(text, false);
    if (target.ids) for (const id of target.ids) selected.delete(id);
    await refreshJob();
  }

  // ---- The job's activity: two small charts drawn as inline SVG ----

  const SVG = "http://www.w3.org/2000/svg";
  const KINDS = ["transient", "permanent", "interrupted", "crash_loop"];

  function svg(parent, name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    parent.appendChild(element);
    return element;
  }

  function rounded(value) {
    return value >= 100 ? String(Math.round(value)) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }

  function duration(seconds) {
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  // Chart area: x from `since` to `until`, left margin for the scale, bottom for the time labels.
  const W = 600, H = 160, LEFT = 44, BOTTOM = 18, TOP = 8;

  function frame(chart, since, until, top, unit) {
    chart.replaceChildren();
    svg(chart, "line", { x1: LEFT, y1: H - BOTTOM, x2: W, y2: H - BOTTOM, class: "axis" });
    svg(chart, "line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, class: "axis" });
    svg(chart, "text", { x: LEFT - 4, y: TOP + 8, "text-anchor": "end" }, rounded(top));
    svg(chart, "text", { x: LEFT - 4, y: H - BOTTOM, "text-anchor": "end" }, "0");
    svg(chart, "text", { x: LEFT, y: H - 4 }, "-" + Math.round((until - since) / 60000) + " min");
    svg(chart, "text", { x: W - 2, y: H - 4, "text-anchor": "end" }, "now " + unit);
    return {
      x: (at) => LEFT + (W - LEFT) * (at - since) / Math.max(1, until - since),
      y: (value) => (H - BOTTOM) - (H - BOTTOM - TOP) * value / Math.max(top, 1e-9),
    };
  }

  function drawRates(activity, since, until) {
    const chart = document.getElementById("rate-chart");
    const top = Math.max(1, ...activity.rates.map((r) => Math.max(r.collected_per_second, r.ingested_per_second)));
    const scale = frame(chart, since, until, top, "(documents/s)");
    for (const [key, name] of [["collected_per_second", "collected"], ["ingested_per_second", "ingested"]]) {
      const points = activity.rates.map((r) => scale.x(Date.parse(r.at)).toFixed(1) + "," + scale.y(r[key]).toFixed(1));
      if (points.length > 0) svg(chart, "polyline", { points: points.join(" "), class: "line-" + name });
      // A dot per sample: a run shorter than two samples still shows.
      for (const point of points) {
        const [cx, cy] = point.split(",");
        svg(chart, "circle", { cx, cy, r: 3, class: "dot-" + name });
      }
    }
    const last = activity.rates[activity.rates.length - 1];
    chart.setAttribute("aria-label", last
      ? "Documents per second over the last hour: now " + rounded(last.ingested_per_second) + " ingested and " +
        rounded(last.collected_per_second) + " collected; at most " + rounded(top) + "."
      : "No documents per second yet: the server samples the job's totals every 30 seconds while it has items to run.");
  }

  function drawFailures(activity, since, until) {
    const chart = document.getElementById("failure-chart");
    const perMinute = new Map();
    for (const f of activity.failures) perMinute.set(f.minute, (perMinute.get(f.minute) || 0) + f.count);
    const top = Math.max(1, ...perMinute.values());
    const scale = frame(chart, since, until, top, "(per minute)");
    const width = Math.max(2, (W - LEFT) * 60000 / Math.max(1, until - since) - 1);
    const stacked = new Map();
    for (const f of activity.failures) {
      const below = stacked.get(f.minute) || 0;
      stacked.set(f.minute, below + f.count);
      const x = Math.min(W - width, Math.max(LEFT, scale.x(Date.parse(f.minute))));
      svg(chart, "rect", {
        x: x.toFixed(1), y: scale.y(below + f.count).toFixed(1), width: width.toFixed(1),
        height: Math.max(1, scale.y(below) - scale.y(below + f.count)).toFixed(1), class: "bar bar-" + (f.error_kind || "none"),
      }, undefined).appendChild(document.createElementNS(SVG, "title")).textContent =
        f.count + " " + (f.error_kind || "failed") + " at " + f.minute.slice(11, 16) + " UTC";
    }
    const total = activity.failures.reduce((sum, f) => sum + f.count, 0);
    const byKind = KINDS.map((kind) => [kind, activity.failures.filter((f) => f.error_kind === kind).reduce((s, f) => s + f.count, 0)])
      .filter(([, count]) => count > 0).map(([kind, count]) => count + " " + kind.replace("_", " ")).join(", ");
    chart.setAttribute("aria-label", total === 0 ? "No failures in the last hour." : total + " failures in the last hour: " + byKind + ".");
  }

  async function refreshActivity() {
    const activity = await api("GET", "/api/pipelines/jobs/" + jobID + "/activity?minutes=60");
    const since = Date.parse(activity.since), until = Date.parse(activity.until);
    drawRates(activity, since, until);
    drawFailures(activity, since, until);
    const last = activity.rates[activity.rates.length - 1];
    let text = last ? "Now " + rounded(last.ingested_per_second) + " documents/s ingested. " : "";
    if (activity.items_left === 0) text += "Nothing left to run.";
    else if (activity.seconds_left === null) text += activity.items_left + " items left; none finished in the last 10 minutes to estimate the time left.";
    else text += activity.items_left + " items left: about " + duration(activity.seconds_left) + " at the current rate.";
    setText(document.getElementById("activity-summary"), text);
  }

  // ---- One work item's history ----

  let shownItem = null;

  function when(iso) { return iso ? iso.replace("T", " ").replace("Z", " UTC") : ""; }

  async function showItem(id) {
    shownItem = id;
    await refreshItem();
    const section = document.getElementById("item-detail");
    section.hidden = false;
    document.getElementById("item-detail-title").focus();
  }

  async function refreshItem() {
    if (!shownItem) return;
    const item = await api("GET", "/api/pipelines/work-items/" + shownItem);
    setText(document.getElementById("item-detail-title"), "History of " + item.name);
    const checkpoints = item.checkpoints.map((c) => (c.phase === "collect" ? "Collect" : "Ingest") + " checkpoint: " +
      c.documents + " documents" +
      (c.sink_offset !== null ? " (sink offset " + c.sink_offset + ")" : "")).join("; ");
    setText(document.getElementById("item-detail-summary"),
      item.name + ": " + item.status + " (phase " + item.phase + "), attempt " + item.attempt + ". " +
      (checkpoints ? checkpoints + ". " : "No checkpoint yet. ") +
      "Collected over all attempts: " + item.collected_total + "." +
      (item.not_collected_again > 0 ? " Recovers resumed with " + item.not_collected_again +
        " documents already collected: they were not collected again." : ""));
    syncRows(document.querySelector("#item-events tbody"), item.events.map((e) => Object.assign({}, e, { id: String(e.id) })),
      "No history.", 6,
      () => {
        const row = document.createElement("tr");
        for (let i = 0; i < 6; i++) cell(row, "");
        return row;
      },
      (row, e) => {
        setText(row.cells[0], when(e.at));
        setText(row.cells[1], String(e.attempt));
        setText(row.cells[2], e.from || "(created)");
        setText(row.cells[3], e.to);
        setText(row.cells[4], e.mode || "");
        setText(row.cells[5], e.error ? (e.error_kind || "error") + ": " + e.error : "");
      });
  }

  function wireJobPage() {
    document.getElementById("close-detail").addEventListener("click", () => {
      shownItem = null;
      document.getElementById("item-detail").hidden = true;
    });
    for (const id of ["status-filter", "kind-filter"]) {
      document.getElementById(id).addEventListener("change", () => {
        pageStarts.length = 1;
        refresh();
      });
    }
    let typing = null;
    document.getElementById("error-filter").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => { pageStarts.length = 1; refresh(); }, 300);
    });
    document.getElementById("filter-bar").addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("retry-matching").addEventListener("click", async () => {
      const filter = matchingFilter();
      if (!filter) return;
      try { await openFilterRetry(filter, "matching (" + describeFilter(filter) + ")"); } catch (error) { report(error); }
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
        if (box.checked) selected.set(box.value, box.dataset.kind); else selected.delete(box.value);
      }
      updateSelection();
    });
    document.getElementById("retry-selected").addEventListener("click", () => {
      const crashLoops = Array.from(selected.values()).filter((kind) => kind === "crash_loop").length;
      openRetryDialog({ ids: Array.from(selected.keys()) }, selected.size, "selected", crashLoops);
    });
    document.getElementById("retry-all-failed").addEventListener("click", async () => {
      document.getElementById("job-menu").open = false;
      try { await openFilterRetry({ job_id: jobID, status: ["failed"] }, "failed"); } catch (error) { report(error); }
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

  let activityTick = 0;

  // One refresh at a time: a slow one (a narrowed list looking on) is not overtaken by the next
  // tick; a refresh asked for meanwhile (a filter changed) runs as soon as it ends.
  let refreshing = false;
  let refreshAgain = false;

  async function refresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try {
      if (body.dataset.page === "jobs") await refreshJobs();
      if (body.dataset.page === "job") {
        await refreshJob();
        await refreshItem();
        // The charts change by the minute: every fifth refresh is plenty.
        if (activityTick++ % 5 === 0) await refreshActivity();
      }
    } catch (error) {
      report(error);
    } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; refresh(); }
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

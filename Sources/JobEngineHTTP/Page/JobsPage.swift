import Foundation

/// The HTML of the Jobs page. Every piece of data is filled in by the page's script through the
/// API (which needs the key), so the HTML itself carries no job data and needs no key.
enum JobsPage {
    static func jobList(authenticated: Bool) -> String {
        layout(title: "Jobs", authenticated: authenticated, attributes: #"data-page="jobs""#, main: """
            <h1>Jobs</h1>
            <table id="jobs">
              <caption>Every job in the store, with its work items by status. Updates every two seconds.</caption>
              <thead><tr>
                <th scope="col">Job</th><th scope="col">State</th><th scope="col">Pending</th><th scope="col">Running</th>
                <th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Cancelled</th>
                <th scope="col">Progress</th><th scope="col">Documents collected / ingested</th><th scope="col">Last progress</th>
              </tr></thead>
              <tbody><tr><td colspan="10">Loading…</td></tr></tbody>
            </table>
            """)
    }

    static func job(id: UUID, authenticated: Bool) -> String {
        layout(title: "Job", authenticated: authenticated, attributes: #"data-page="job" data-job-id="\#(id.uuidString.lowercased())""#,
               main: """
            <p><a href="/jobs">← All jobs</a></p>
            <h1 id="job-title">Job</h1>
            <p id="job-summary" aria-live="polite"></p>
            <details class="menu" id="job-menu">
              <summary>Job actions</summary>
              <ul>
                <li><button type="button" id="retry-all-failed">Retry failed items…</button></li>
                <li><button type="button" id="cancel-job">Cancel job</button></li>
              </ul>
            </details>
            <div class="toolbar">
              <label for="status-filter">Show</label>
              <select id="status-filter">
                <option value="">all items</option>
                <option value="failed">failed items</option>
                <option value="cancelled">cancelled items</option>
                <option value="running">running items</option>
                <option value="pending">pending items</option>
                <option value="succeeded">succeeded items</option>
              </select>
              <button type="button" id="retry-selected" disabled>Retry selected…</button>
            </div>
            <table id="items">
              <caption>Work items of this job. Select failed or cancelled items to retry them; choose an item's name for its history. Updates every second.</caption>
              <thead><tr>
                <th scope="col"><input type="checkbox" id="select-all" aria-label="Select every retryable item shown"></th>
                <th scope="col">Item</th><th scope="col">Status</th><th scope="col">Phase</th><th scope="col">Attempt</th>
                <th scope="col">Collected</th><th scope="col">Ingested</th><th scope="col">Collected in all attempts</th>
                <th scope="col">Error</th>
              </tr></thead>
              <tbody><tr><td colspan="9">Loading…</td></tr></tbody>
            </table>
            <nav class="pager" aria-label="Work item pages">
              <button type="button" id="previous-page" disabled>Previous page</button>
              <button type="button" id="next-page" disabled>Next page</button>
            </nav>
            <section id="item-detail" hidden aria-labelledby="item-detail-title">
              <h2 id="item-detail-title" tabindex="-1">Work item</h2>
              <p id="item-detail-summary"></p>
              <table id="item-events">
                <caption>History: every status change of this item, oldest first.</caption>
                <thead><tr>
                  <th scope="col">Time</th><th scope="col">Attempt</th><th scope="col">From</th><th scope="col">To</th>
                  <th scope="col">Retry mode</th><th scope="col">Error</th>
                </tr></thead>
                <tbody></tbody>
              </table>
              <button type="button" id="close-detail">Close history</button>
            </section>
            <dialog id="retry-dialog" aria-labelledby="retry-title" aria-describedby="retry-count">
              <form method="dialog" id="retry-form">
                <h2 id="retry-title">Retry work items</h2>
                <p id="retry-count"></p>
                <fieldset>
                  <legend>How should they run again?</legend>
                  <div class="choice">
                    <input type="radio" name="mode" value="recover" id="mode-recover" checked aria-describedby="recover-help">
                    <label for="mode-recover">Recover</label>
                    <p id="recover-help">Continues from the last checkpoint: nothing already collected is collected again.</p>
                  </div>
                  <div class="choice">
                    <input type="radio" name="mode" value="restart" id="mode-restart" aria-describedby="restart-help">
                    <label for="mode-restart">Restart</label>
                    <p id="restart-help">Clears the item's checkpoints and output, then runs it from the beginning with the job's current parameters.</p>
                  </div>
                </fieldset>
                <div class="actions">
                  <button type="submit" value="retry" id="confirm-retry">Retry</button>
                  <button type="submit" value="cancel" id="dismiss-retry">Don't retry</button>
                </div>
              </form>
            </dialog>
            """)
    }

    static func notFound(authenticated: Bool, what: String) -> String {
        layout(title: "Not found", authenticated: authenticated, attributes: #"data-page="none""#,
               main: "<h1>Not found</h1><p>\(escape(what)). <a href=\"/jobs\">All jobs</a></p>")
    }

    private static func layout(title: String, authenticated: Bool, attributes: String, main: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) · JobEngine</title>
        <link rel="stylesheet" href="/assets/jobs.css">
        <script src="/assets/jobs.js" defer></script>
        </head>
        <body \(attributes) data-auth="\(authenticated ? "required" : "none")">
        <header><a href="/jobs" class="brand">JobEngine</a></header>
        <main>
        <form id="key-form" hidden>
          <h2>API key</h2>
          <p>The API key is kept for this browser session only.</p>
          <label for="api-key">API key</label>
          <input type="password" id="api-key" name="apikey" autocomplete="current-password" required>
          <button type="submit" id="save-key">Use this key</button>
        </form>
        <p id="message" role="status" aria-live="polite"></p>
        <noscript><p>This page needs JavaScript to load jobs from the API.</p></noscript>
        \(main)
        </main>
        </body>
        </html>
        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

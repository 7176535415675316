import Foundation

/// The HTML of the Jobs page, filled from the templates in `Resources/` (embedded in the binary).
/// Every piece of data is filled in by the page's script through the API (which needs the key), so
/// the HTML itself carries no job data and needs no key.
enum JobsPage {
    static func jobList(authenticated: Bool) -> String {
        layout(title: "Jobs", authenticated: authenticated, attributes: #"data-page="jobs""#,
               main: PageResource.text(PackageResources.job_list_html))
    }

    static func job(id: UUID, authenticated: Bool) -> String {
        layout(title: "Job", authenticated: authenticated, attributes: #"data-page="job" data-job-id="\#(id.uuidString.lowercased())""#,
               main: PageResource.text(PackageResources.job_html))
    }

    static func notFound(authenticated: Bool, what: String) -> String {
        layout(title: "Not found", authenticated: authenticated, attributes: #"data-page="none""#,
               main: PageResource.fill(PageResource.text(PackageResources.not_found_html), ["what": escape(what)]))
    }

    private static func layout(title: String, authenticated: Bool, attributes: String, main: String) -> String {
        PageResource.fill(PageResource.text(PackageResources.layout_html), [
            "title": escape(title), "attributes": attributes, "auth": authenticated ? "required" : "none", "main": main,
        ])
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

import Foundation
import Hummingbird

/// The Jobs page: `GET /` and `/jobs` (every job), `/jobs/{id}` (one job's work items), and the
/// page's script and style sheet. The HTML is rendered here; the page's script fills it from the
/// API with the key the operator enters once per browser session. Nothing is loaded from elsewhere,
/// so the page works offline.
struct PageRoutes<Context: RequestContext>: Sendable {
    /// Whether the API wants a key: the page asks for one only then.
    let authenticated: Bool

    func register<Methods: RouterMethods<Context>>(on router: Endpoints<Methods>) {
        router.add("", [.get: { _, _ in html(JobsPage.jobList(authenticated: authenticated)) }])
        router.add("jobs", [.get: { _, _ in html(JobsPage.jobList(authenticated: authenticated)) }])
        router.add("jobs/:id", [.get: { _, context in
            let raw = context.parameters.get("id") ?? ""
            guard let id = UUID(uuidString: raw) else {
                return html(JobsPage.notFound(authenticated: authenticated, what: "'\(raw)' is not a job id"), status: .notFound)
            }
            return html(JobsPage.job(id: id, authenticated: authenticated))
        }])
        router.add("assets/jobs.js", [.get: { _, _ in asset(PageResource.script, type: "text/javascript; charset=utf-8") }])
        router.add("assets/jobs.css", [.get: { _, _ in asset(PageResource.styleSheet, type: "text/css; charset=utf-8") }])
    }

    private func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8",
            // Only our own script and style: the page needs nothing else and must work offline.
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            .cacheControl: "no-store",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

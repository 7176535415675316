import Foundation

/// One page of a job's work items, in spec order.
public struct WorkItemPage: Sendable {
    public let items: [WorkItem]
    /// The position (in the spec) of the page's last item, to continue after; nil on the last page.
    public let nextAfter: Int?

    package init(items: [WorkItem], nextAfter: Int?) {
        self.items = items
        self.nextAfter = nextAfter
    }
}

import Foundation

/// A job as the store holds it: a named spec and its version.
public struct Job: Sendable, Equatable {
    public let id: UUID
    public let name: String
    /// 1 when first submitted; bumped each time a spec with this name is submitted again.
    public let specVersion: Int
    public let spec: JobSpec
    /// Relative paths in the spec resolve against this folder.
    public let baseDirectory: String
    public let cancelled: Bool
    public let createdAt: Date
    public let updatedAt: Date
    /// Why the stored spec cannot be read (`spec` is then a placeholder and the job cannot run until
    /// its spec is submitted again); nil when it can. One unreadable job never hides the others.
    public let specError: String?
}

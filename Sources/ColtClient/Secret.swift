/// A secret that never prints: `description` and `debugDescription` are `<redacted>`.
///
/// String interpolation, `print`, `dump`-free logging and error messages all go through
/// the two descriptions, so a `Secret` that ends up in any of them shows nothing.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret text. For the client's own use only (building an `Authorization` header):
    /// never log it, never interpolate it.
    public var value: String

    /// Wraps `value`.
    public init(_ value: String) {
        self.value = value
    }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// Hides the stored value from `dump` and `Mirror`.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

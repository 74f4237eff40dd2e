import Foundation
import Mustache
import OrderStore

/// The operator's web pages, rendered on the server from the templates in `Templates/`
/// (embedded in the binary) with swift-mustache. No script: plain HTML, one stylesheet, and
/// plots drawn as inline SVG.
///
/// Every value a template shows goes through Mustache's HTML escaping (`{{name}}`); the only
/// unescaped values (`{{{chart}}}`) are the SVG this module draws, whose text is escaped by
/// ``Chart/escape(_:)``.
public struct OperatorPages: Sendable {
    private let library: MustacheLibrary

    /// The stylesheet, served at `/ui/style.css`.
    public static let stylesheet: [UInt8] = PackageResources.style_css

    /// Parses the embedded templates.
    public init() throws {
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("head", PackageResources.head_mustache), ("foot", PackageResources.foot_mustache),
            ("overview", PackageResources.overview_mustache), ("ledger", PackageResources.ledger_mustache),
            ("request", PackageResources.request_mustache), ("problem", PackageResources.problem_mustache),
        ]
        for (name, bytes) in templates {
            try library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        self.library = library
    }

    /// The overview: rows per state, what needs a look, rejections, the daemon, the plots.
    public func overview(_ data: OverviewData) -> String {
        render("overview", OverviewView(data))
    }

    /// A page of the ledger, filtered or searched.
    public func ledger(_ data: LedgerPageData) -> String {
        render("ledger", LedgerView(data))
    }

    /// One request: its fields, attempts, numbers, and the actions that apply.
    public func request(_ data: RequestPageData) -> String {
        render("request", RequestView(data))
    }

    /// A page that says what went wrong (not found, refused, a bad filter).
    public func problem(heading: String, message: String) -> String {
        render("problem", ProblemView(title: heading, heading: heading, message: message))
    }

    private func render(_ template: String, _ view: some PageView) -> String {
        library.render(view, withTemplate: template) ?? "template \(template) is missing"
    }
}

/// What every page's header and footer read.
protocol PageView {
    var title: String { get }
}

struct ProblemView: PageView {
    var title: String
    var heading: String
    var message: String
    var footer = PageFooter.text
    var searchText = ""
}

enum PageFooter {
    static let text = "colt-orders · times are UTC · read-only unless actions are enabled"
}

/// Ages and times in the words the CLI uses.
enum Words {
    /// `3d 4h`, `12m 5s`, from an ISO-8601 time to `now`; empty when the text is not a time.
    static func age(of stamp: String?, now: Date) -> String {
        guard let stamp, let date = Timestamp.date(stamp) else { return "" }
        return Timestamp.age(.seconds(max(0, Int64(now.timeIntervalSince(date)))))
    }

    /// `2026-12-01 13:04:05`: the stored time without its fraction and zone letter.
    static func time(_ stamp: String?) -> String {
        guard let stamp, !stamp.isEmpty else { return "" }
        return String(stamp.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    /// `in 4m 10s` or `4m 10s ago`.
    static func relative(_ date: Date, now: Date) -> String {
        let seconds = Int64(date.timeIntervalSince(now).rounded())
        let words = Timestamp.age(.seconds(abs(seconds)))
        return seconds >= 0 ? "in \(words)" : "\(words) ago"
    }
}

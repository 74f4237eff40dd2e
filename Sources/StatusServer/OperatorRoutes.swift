import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OperatorPages
import OrderStore

/// The operator's web pages on the status endpoint:
///
/// - `GET /` the overview (`?window=day|week` for the plots); it refreshes itself.
/// - `GET /ledger?state=&action=&country=&age=&before=` a page of rows, or `?q=` a search by
///   number (inside a range), order id, tracking id or `#id`.
/// - `GET /requests/{id}` one request: fields, attempts, numbers, actions.
/// - `POST /requests/{id}/cancel`, `POST /requests/{id}/retry` (form field `force=1` for
///   `retry --force`): only with ``StatusServer/Options/allowActions``, which needs
///   authentication, and only with the page's CSRF token.
/// - `GET /ui/style.css` the stylesheet.
///
/// Pages read through a read-only connection of their own (the probes and `/metrics` keep
/// theirs), one short read transaction each, so they never hold up the engine; actions are the
/// CLI's own single `IMMEDIATE` transactions on a writing connection. A database that does not
/// answer is a 503 page and an error in the log (``guarded(_:_:)``).
struct OperatorRoutes: Sendable {
    let reader: Database
    /// The connection actions write through; `nil` when actions are off.
    let writer: Database?
    /// Why actions are off, shown on the page; `nil` when they are on.
    let readOnlyBecause: String?
    let credentials: StatusCredentials?
    let pages: OperatorPages
    let csrf = CSRFToken()
    let condition: @Sendable () async -> DaemonCondition
    let logger: Logger

    /// Rows per ledger page.
    static let pageSize = 50

    func add(to router: Router<BasicRequestContext>) {
        router.get("/ui/style.css") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: OperatorPages.stylesheet)))
        }
        router.get("/") { request, _ in await guarded("the overview") {
            let fields = FormFields(request.uri.query ?? "")
            let window = fields["window"].flatMap(ChartWindow.init(rawValue:)) ?? .day
            let daemon = await condition()
            let data = try await reader.use { db in
                try db.transaction(.deferred) { () throws -> OverviewData in
                    let now = Date()
                    return OverviewData(
                        status: try Ledger.status(db, now: now, rejections: 0),
                        rejections: try Ledger.rejections(db, since: now.addingTimeInterval(-86_400)),
                        activity: try Ledger.hourlyActivity(db, since: now.addingTimeInterval(-window.seconds + 3600), now: now),
                        completion: try Ledger.completionTimes(db, since: now.addingTimeInterval(-window.seconds)),
                        window: window, daemon: daemon, now: now)
                }
            }
            return html(pages.overview(data))
        } }
        router.get("/ledger") { request, _ in await guarded("the ledger page") {
            let now = Date()
            switch LedgerQuery.parse(FormFields(request.uri.query ?? "").values) {
            case .failure(let problem):
                return html(pages.ledger(LedgerPageData(query: LedgerQuery(), problem: problem.description, now: now)), status: .badRequest)
            case .success(let query):
                let data = try await reader.use { db in
                    try db.transaction(.deferred) { () throws -> LedgerPageData in
                        if let text = query.search {
                            return LedgerPageData(query: query, search: try Ledger.search(db, text, limit: Self.pageSize), now: now)
                        }
                        return LedgerPageData(query: query, page: try Ledger.list(db, filter: query.filter(now: now, limit: Self.pageSize)), now: now)
                    }
                }
                return html(pages.ledger(data))
            }
        } }
        router.get("/requests/:id") { request, context in await guarded("a request page") {
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return html(pages.problem(heading: "Not a request id", message: "A request id is a whole number, as in /requests/42."), status: .badRequest)
            }
            // After an action's redirect: said only when the row's state bears it out, so a
            // link cannot make the page claim what did not happen.
            let done = FormFields(request.uri.query ?? "")["done"]
            return try await requestPage(id: id) { entry in
                switch (done, entry.state) {
                case ("cancelled", "cancelled"):
                    return PageNotice(text: "Cancelled. The daemon will not send this request."
                        + (entry.outcomeUnknown ? " An earlier attempt's answer was lost, so Colt may have created an order under tracking id \(entry.trackingID ?? "?"): check with Colt before treating the numbers as untouched." : ""),
                        tone: entry.outcomeUnknown ? "warn" : "good")
                case ("retried", "queued"), ("retried", "submitting"):
                    return PageNotice(text: "Queued again under a new tracking id; the daemon sends it shortly. Earlier attempts stay below.", tone: "good")
                default:
                    return nil
                }
            }
        } }
        router.post("/requests/:id/cancel") { request, context in await guarded("a cancel") {
            try await act(request, context, name: "cancel")
        } }
        router.post("/requests/:id/retry") { request, context in await guarded("a retry") {
            try await act(request, context, name: "retry")
        } }
    }

    /// Runs a page's work; a failure of the database (busy past its timeout, gone, unreadable)
    /// is logged and shown as a page that says so (503), never an empty error.
    private func guarded(_ what: String, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as HTTPError {
            return html(pages.problem(heading: "Refused", message: error.body ?? "\(error.status)"), status: error.status)
        } catch {
            logger.error("status page: \(what) failed", metadata: ["error": "\(error)"])
            return html(pages.problem(heading: "The database did not answer",
                                      message: "\(what.prefix(1).uppercased() + what.dropFirst()) failed: \(error). Nothing was changed; try again in a moment."),
                        status: .serviceUnavailable)
        }
    }

    private func requestPage(id: Int64, status: HTTPResponse.Status = .ok,
                             notice: @escaping @Sendable (LedgerEntry) -> PageNotice?) async throws -> Response {
        let actions = readOnlyBecause.map(PageActions.readOnly) ?? PageActions(readOnlyBecause: nil, csrfToken: csrf.value)
        let found = try await reader.use { db in
            try db.transaction(.deferred) { () throws -> RequestPageData? in
                guard let entry = try Ledger.entry(db, id: id) else { return nil }
                return RequestPageData(entry: entry, attempts: try Ledger.attempts(db, requestID: id),
                                       numbers: try Ledger.numbers(db, requestID: id), actions: actions, notice: notice(entry), now: Date())
            }
        }
        guard let found else {
            return html(pages.problem(heading: "No request \(id)", message: "There is no request \(id) in the ledger (it may have been pruned)."), status: .notFound)
        }
        return html(pages.request(found), status: status)
    }

    /// A cancel or retry from the request page's form.
    private func act(_ request: Request, _ context: BasicRequestContext, name: String) async throws -> Response {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            return html(pages.problem(heading: "Not a request id", message: "A request id is a whole number."), status: .badRequest)
        }
        guard let writer, readOnlyBecause == nil else {
            return html(pages.problem(heading: "Actions are off", message: readOnlyBecause ?? "This page is read-only."), status: .forbidden)
        }
        // A browser says where a request came from; one from another site is refused even
        // before the token is checked. (Origin is not compared with Host: a TLS proxy in front
        // may rewrite Host, and the token is what proves the form was ours.)
        if let site = request.headers[.fetchSite], !["same-origin", "none"].contains(site) {
            return refused("the request came from another site (Sec-Fetch-Site: \(site))")
        }
        let body = try await request.body.collect(upTo: 8192)
        let form = FormFields(String(buffer: body))
        guard csrf.matches(form["csrf"]) else {
            return refused("the form's CSRF token is missing or out of date (the daemon restarted since the page was loaded?). Reload the page and try again")
        }
        let user = credentials?.user(authorization: request.headers[.authorization]) ?? "?"
        let force = form["force"] == "1"
        do {
            let (before, entry) = try await writer.use { db in
                // The row as it was, for the log (no one but retry changes what it reads of it).
                let before = try Ledger.entry(db, id: id)
                return (before, name == "cancel" ? try Ledger.cancel(db, id: id) : try Ledger.retry(db, id: id, force: force))
            }
            // `--force` in the log only when it overrode something: the row's outcome was unknown.
            let forced = force && before?.outcomeUnknown == true
            logger.notice("operator action from the status page", metadata: [
                "action": "\(name)\(forced ? " --force" : "")", "request": "\(id)", "user": "\(user)",
                "tracking_id": "\(entry.trackingID ?? "")", "previous_tracking_id": "\(before?.trackingID ?? "")",
                "state": "\(entry.state)",
            ])
            var headers = HTTPFields()
            headers[.location] = "/requests/\(id)?done=\(name == "cancel" ? "cancelled" : "retried")"
            return Response(status: .seeOther, headers: headers)
        } catch let error as LedgerError {
            logger.notice("operator action from the status page refused", metadata: [
                "action": "\(name)", "request": "\(id)", "user": "\(user)", "reason": "\(error.description)",
            ])
            if error.kind == .notFound {
                return html(pages.problem(heading: "No request \(id)", message: error.description), status: .notFound)
            }
            return try await requestPage(id: id, status: .conflict) { _ in PageNotice(text: error.description, tone: "bad") }
        }
    }

    private func refused(_ why: String) -> Response {
        logger.warning("status page: an action was refused", metadata: ["reason": "\(why)"])
        return html(pages.problem(heading: "Refused", message: "Nothing was changed: \(why)."), status: .forbidden)
    }
}

func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/html; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// `application/x-www-form-urlencoded` fields (a query string or a form body): `+` is a
/// space, `%XX` a byte; the first of repeated names wins.
struct FormFields {
    let values: [String: String]

    init(_ text: String) {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            let name = decode(parts[0])
            if values[name] == nil { values[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        self.values = values
    }

    subscript(name: String) -> String? { values[name] }
}

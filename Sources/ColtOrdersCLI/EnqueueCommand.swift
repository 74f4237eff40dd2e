import CSV
import ArgumentParser
import ColtModel
import Foundation
import OrderStore

/// `colt-orders enqueue`: validated inserts, from flags or a CSV file, all or nothing.
struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue requests, validated first: one from flags, or many from a CSV file (all or nothing).",
        discussion: """
            The CSV file starts with a header naming its columns, in any order:
              action,country,range_start,range_end,service_profile,tracking_id
            action, country and range_start are required; the others may be left out or empty
            (range_end defaults to range_start; the daemon makes the tracking id). Every line is
            checked before anything is written; a bad line is reported with its number and
            nothing is queued. Safe while the daemon runs: one short transaction.
            """)

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "return or reactivate.")
    var action: String?

    @Option(name: .long, help: "One of Colt's 20 countries (GB, DE, ...).")
    var country: String?

    @Option(name: .long, help: "The first number, E.164 (+442081324758).")
    var rangeStart: String?

    @Option(name: .long, help: "The last number (default: range-start).")
    var rangeEnd: String?

    @Option(name: .long, help: "The service profile (omit for none).")
    var serviceProfile: String?

    @Option(name: .long, help: "A tracking id to use instead of one the daemon makes.")
    var trackingID: String?

    @Option(name: .long, help: "A CSV file of requests ('-' for standard input).")
    var csv: String?

    func validate() throws {
        let flagsGiven = [action, country, rangeStart, rangeEnd, serviceProfile, trackingID].contains { $0 != nil }
        if csv != nil, flagsGiven { throw ValidationError("give either --csv or the request's flags, not both") }
        if csv == nil, !flagsGiven { throw ValidationError("give --action, --country and --range-start (and optionally --range-end, --service-profile, --tracking-id), or --csv FILE") }
    }

    func run() throws {
        let requests: [NewRequest]
        if let csv {
            let text: String
            if csv == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let data = FileManager.default.contents(atPath: csv) else {
                    throw ExitCode.withMessage("colt-orders: \(csv): cannot read the file (missing, or not readable by this user); nothing was queued", code: 1)
                }
                text = String(decoding: data, as: UTF8.self)
            }
            switch CSVRequests.parse(text, name: csv == "-" ? "standard input" : csv) {
            case .success(let parsed): requests = parsed
            case .failure(let problems):
                throw ExitCode.withMessage("colt-orders: nothing was queued:\n" + problems.list.map { "  \($0)" }.joined(separator: "\n"), code: 1)
            }
            if requests.isEmpty { throw ExitCode.withMessage("colt-orders: \(csv): no requests in the file; nothing was queued", code: 1) }
        } else {
            do throws(ColtModel.ValidationError) {
                let request = try OrderRequest(action: action, country: country, rangeStart: rangeStart, rangeEnd: rangeEnd ?? rangeStart,
                                               serviceProfile: serviceProfile)
                let tracking = try trackingID.map { text throws(ColtModel.ValidationError) in try TrackingID(validating: text) }
                requests = [NewRequest(request: request, trackingID: tracking, origin: "the command line")]
            } catch {
                throw ExitCode.withMessage("colt-orders: --\(error.column.replacingOccurrences(of: "_", with: "-")): \(TerminalText.safe(error.problem)); nothing was queued", code: 1)
            }
        }
        let db = try options.openForWriting()
        let ids = try ledgerAction { try Ledger.enqueue(db, requests) }
        if ids.count == 1 {
            print("queued request \(ids[0])")
        } else {
            print("queued \(ids.count) requests: ids \(ids.first!) to \(ids.last!)")
        }
    }
}

/// Reads requests from CSV text with a header line.
enum CSVRequests {
    struct Problems: Error { var list: [String] }

    static let columns = ["action", "country", "range_start", "range_end", "service_profile", "tracking_id"]

    /// Every problem, each with its record's line number; or the requests when there is none.
    /// Read by CSV.swift: a UTF-8 byte-order mark, CRLF or LF line ends and quoted fields
    /// (commas, quotes and line breaks inside) are what spreadsheets write. A record's "line" is
    /// its number in the file, the header being line 1 (blank lines are skipped and counted).
    static func parse(_ text: String, name: String) -> Result<[NewRequest], Problems> {
        var problems: [String] = []
        var requests: [NewRequest] = []
        var header: [String]? = nil
        var lineNumber = 0
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let reader: CSVReader
        do {
            reader = try CSVReader(string: body, hasHeaderRow: false)
        } catch {
            return .failure(Problems(list: ["\(name): not CSV: \(error)"]))
        }
        while let fields = reader.next() {
            lineNumber += 1
            if fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            // No column of ours holds a line break: a field that does is a quote left open,
            // which takes the rest of the file with it.
            if fields.contains(where: { $0.contains(where: \.isNewline) }) {
                problems.append("\(name) line \(lineNumber): a quoted field is not closed (it runs over the lines after it)")
                break
            }
            guard let columns = header else {
                let names = fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                for unknown in names where !Self.columns.contains(unknown) {
                    problems.append("\(name) line \(lineNumber): unknown column '\(TerminalText.safe(unknown))' in the header; the columns are \(Self.columns.joined(separator: ","))")
                }
                for required in ["action", "country", "range_start"] where !names.contains(required) {
                    problems.append("\(name) line \(lineNumber): the header lacks the column '\(required)' (the first line names the columns, e.g. action,country,range_start,range_end,service_profile)")
                }
                if Set(names).count != names.count { problems.append("\(name) line \(lineNumber): a column is named twice in the header") }
                if !problems.isEmpty { return .failure(Problems(list: problems)) }
                header = names
                continue
            }
            guard fields.count == columns.count else {
                problems.append("\(name) line \(lineNumber): \(fields.count) fields, but the header names \(columns.count)")
                continue
            }
            var values: [String: String] = [:]
            for (column, value) in zip(columns, fields) {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { values[column] = trimmed }
            }
            do throws(ColtModel.ValidationError) {
                let request = try OrderRequest(action: values["action"], country: values["country"], rangeStart: values["range_start"],
                                               rangeEnd: values["range_end"] ?? values["range_start"], serviceProfile: values["service_profile"])
                let tracking = try values["tracking_id"].map { text throws(ColtModel.ValidationError) in try TrackingID(validating: text) }
                requests.append(NewRequest(request: request, trackingID: tracking, origin: "\(name) line \(lineNumber)"))
            } catch {
                problems.append("\(name) line \(lineNumber): \(error.column): \(TerminalText.safe(error.problem))")
            }
        }
        if let error = reader.error {
            problems.append("\(name) line \(lineNumber + 1): not CSV (\(error)); a quoted field may not be closed")
        }
        if header == nil, problems.isEmpty { return .success([]) }
        let tracking = requests.compactMap { $0.trackingID?.text }
        if Set(tracking).count != tracking.count { problems.append("\(name): the same tracking_id is given on two lines") }
        return problems.isEmpty ? .success(requests) : .failure(Problems(list: problems))
    }
}

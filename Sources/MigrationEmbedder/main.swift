// Writes a Swift file that holds every migration given on the command line, in order.
// Usage: MigrationEmbedder OUTPUT.swift 0001_name.sql 0002_name.sql ...
import Foundation

let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: MigrationEmbedder OUTPUT.swift MIGRATION.sql...\n".utf8))
    exit(2)
}

var source = """
    // Generated at build time from migrations/*.sql by MigrationEmbedder. Do not edit.

    extension Migration {
        /// Every migration shipped with this binary, in the order they apply.
        static let embedded: [Migration] = [

    """
for path in arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    let name = url.deletingPathExtension().lastPathComponent
    guard let digits = name.split(separator: "_").first, let version = Int(digits) else {
        FileHandle.standardError.write(Data("error: \(path): a migration's name must start with its number, as in 0001_initial.sql\n".utf8))
        exit(1)
    }
    let sql: String
    do { sql = try String(contentsOf: url, encoding: .utf8) } catch {
        FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
        exit(1)
    }
    // A raw string with enough #s that nothing in the SQL can end it.
    var hashes = "#"
    while sql.contains("\"" + hashes) { hashes += "#" }
    source += "        Migration(version: \(version), name: \(String(reflecting: name)), sql: \(hashes)\"\"\"\n\(sql)\n\"\"\"\(hashes)),\n"
}
source += "    ]\n}\n"
do {
    try source.write(to: URL(fileURLWithPath: output), atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("error: cannot write \(output): \(error)\n".utf8))
    exit(1)
}

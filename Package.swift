// swift-tools-version:6.2
import PackageDescription

/// Settings shared by every Swift target of the package.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// How the executable (and the test binary, which links its target) is linked on Linux: with
/// the toolchain's lld, whose packed relative relocations (DT_RELR, read by glibc 2.36 and later)
/// take 20 KB where the default linker's RELA table took 2.5 MB, every page of it read at
/// start-up and kept mapped (BENCHMARKS.md, "What the daemon's memory is").
let leanExecutable: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
]

let package = Package(
    name: "colt-orders",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "colt-orders", targets: ["ColtOrdersCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Hummingbird's own dependencies, named for the sandbox's answer-timing handler and its test.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // No traits: the JSON file is read by Settings itself (see ConfigurationLayers).
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
    ],
    targets: [
        // C libraries, through pkg-config, with small shims over their variadic functions.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),

        // The domain: actions, countries, E.164 ranges, tracking ids, the order body.
        .target(name: "ColtModel", swiftSettings: strictSettings),

        // The database layer: SQLite connection, embedded migrations, queue and ledger queries.
        .target(
            name: "OrderStore",
            dependencies: ["CSQLite", "ColtModel"],
            swiftSettings: strictSettings,
            plugins: ["EmbedMigrations"]
        ),

        // The Colt API client: libcurl transport, OAuth token cache, outcome classification.
        .target(
            name: "ColtClient",
            dependencies: [
                "CCurl", "ColtModel",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // The daemon's engine: claiming, submitting, retry policy, global backoff, shutdown.
        .target(
            name: "OrderEngine",
            dependencies: [
                "OrderStore", "ColtClient", "ColtModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // An embedded simulator of Colt's API, for tests, the demo and benchmarks.
        .target(
            name: "ColtSandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // The operator's web pages, rendered on the server: templates, view models, SVG plots.
        .target(
            name: "OperatorPages",
            dependencies: ["OrderStore", "ColtModel", .product(name: "Mustache", package: "swift-mustache")],
            resources: [
                .embedInCode("Templates/head.mustache"), .embedInCode("Templates/foot.mustache"),
                .embedInCode("Templates/overview.mustache"), .embedInCode("Templates/ledger.mustache"),
                .embedInCode("Templates/request.mustache"), .embedInCode("Templates/problem.mustache"),
                .embedInCode("Templates/style.css"),
            ],
            swiftSettings: strictSettings
        ),

        // The daemon's HTTP status endpoint: health, readiness, the ledger as JSON and as web
        // pages (with authentication off loopback), Prometheus metrics.
        .target(
            name: "StatusServer",
            dependencies: [
                "OrderStore", "ColtClient", "OrderEngine", "OperatorPages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // The `colt-orders` command line: run, drain, check-config, sandbox, demo, ...
        .executableTarget(
            name: "ColtOrdersCLI",
            dependencies: [
                "OrderEngine", "OrderStore", "ColtClient", "ColtModel", "ColtSandbox", "StatusServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            swiftSettings: strictSettings,
            linkerSettings: leanExecutable
        ),

        // Build-time embedding of migrations/*.sql into the OrderStore module.
        .executableTarget(name: "MigrationEmbedder", swiftSettings: strictSettings),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),

        .testTarget(
            name: "ColtModelTests",
            dependencies: ["ColtModel", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OrderStoreTests",
            dependencies: ["OrderStore", "ColtModel", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ColtClientTests",
            dependencies: ["ColtClient", "ColtModel", "ColtSandbox", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OrderEngineTests",
            dependencies: ["OrderEngine", "ColtClient", "ColtModel", "OrderStore", "CSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OperatorPagesTests",
            dependencies: ["OperatorPages", "OrderStore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ColtSandboxTests",
            dependencies: [
                "ColtSandbox", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["ColtOrdersCLI", "ColtSandbox", "OrderStore", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["OrderStore", "ColtSandbox", "TestSupport"],
            swiftSettings: strictSettings
        ),
        // Helpers shared by the test targets: temporary directories, processes, sqlite3 CLI.
        .target(
            name: "TestSupport",
            dependencies: ["ColtSandbox", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
    ]
)

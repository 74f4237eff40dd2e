/// The example requests of the seed documents (/work/shared/colt-api/seeds), copied byte for
/// byte except for one thing: the documents indent with U+00A0 (no-break space), which is not
/// JSON whitespace, so every U+00A0 is replaced by U+0020 here (see `seedNBSPIsNotJSON`).
enum SeedRequests {
    /// `return-order.txt`: 1.1 (with service profile), 1.2 (without).
    static let returnRequests: [String] = [
        """
        {
            "numberRangeList": [
                {
                    "numberRangeStart": "+442081324758",
                    "numberRangeEnd": "+442081324758"
                }
            ],
            "productOffering": {
                "name": "Wholesale SIP"
            },
            "relatedParty": {
                "reseller": {
                    "serviceProfile": "ANH",
                    "country": "GB"
                }
            }
        }
        """,
        """
        {
            "numberRangeList": [
                {
                    "numberRangeStart": "+442081324759",
                    "numberRangeEnd": "+442081324759"
                }
            ],
            "productOffering": {
                "name": "Wholesale SIP"
            },
            "relatedParty": {
                "reseller": {
                    "country": "GB"
                }
            }
        }
        """,
    ]
    /// `reactivate-order.txt`: 1.1 (with service profile), 1.2 (without).
    static let reactivateRequests: [String] = [
        """
        {
            "numberRangeList": [
                {
                    "numberRangeStart": "+442081324758",
                    "numberRangeEnd": "+442081324758"
                }
            ],
            "productOffering": {
                "name": "Wholesale SIP"
            },
            "relatedParty": {
                "reseller": {
                    "serviceProfile": "ANH",
                    "country": "GB"
                }
            }
        }
        """,
        """
        {
            "numberRangeList": [
                {
                    "numberRangeStart": "+442081324759",
                    "numberRangeEnd": "+442081324759"
                }
            ],
            "productOffering": {
                "name": "Wholesale SIP"
            },
            "relatedParty": {
                "reseller": {
                    "country": "GB"
                }
            }
        }
        """,
    ]
}

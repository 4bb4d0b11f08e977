/// Authoritative lookup (RFC 1034 section 4.3.2, RFC 4592 wildcards, RFC 2308 negative
/// answers). Fills a `Resolution`; encoding happens elsewhere.
extension ZoneSet {
    /// Longest CNAME chain followed before giving up.
    static let maxChain = 12

    /// Resolves the name loaded in `scratch` (lowercase) for `qtype`.
    /// `fullAny` answers ANY with every RRset (TCP) instead of one (RFC 8482, UDP).
    func resolve(qtype: RRType, fullAny: Bool, draw: Draw, scratch: LookupScratch, into result: inout Resolution) {
        guard var zone = findZone(scratch) else {
            result.rcode = .refused
            return
        }
        result.authoritative = true
        result.zone = Int32(zone)
        var owner = OwnerSource.question
        for _ in 0..<ZoneSet.maxChain {
            guard let answerIndex = step(zone: zone, qtype: qtype, fullAny: fullAny, owner: owner, draw: draw, scratch: scratch, into: &result) else {
                return
            }
            // Follow the CNAME when its target lies in a served zone.
            let loaded = withRRSet(result.answer[answerIndex]) { set -> Bool in
                guard let target = set.firstTarget() else { return false }
                scratch.load(lowercasing: target)
                return true
            }
            guard loaded, let next = findZone(scratch) else { return }
            zone = next
            owner = .chainTarget(answerIndex)
        }
    }

    /// The most specific served zone containing the name in `scratch`.
    func findZone(_ scratch: LookupScratch) -> Int? {
        for index in 0...scratch.labelCount {
            if let zone = apexes.find(scratch.suffix(index)) { return zone }
        }
        return nil
    }

    /// One name within one zone. Returns the answer index of a CNAME whose target is to be
    /// chased, or nil when done.
    private func step(zone zoneIndex: Int, qtype: RRType, fullAny: Bool, owner: OwnerSource, draw: Draw,
                      scratch: LookupScratch, into result: inout Resolution) -> Int? {
        let zone = zones[zoneIndex]
        let storage = zone.storage
        let z = Int32(zoneIndex)
        let apexLabels = zone.origin.labelCount
        let nameLabels = scratch.labelCount

        // Walk down from the apex: find the closest encloser, stopping at zone cuts.
        var encloserLabel = nameLabels - apexLabels  // label index of the closest encloser
        var found: Int? = nil
        var depth = apexLabels + 1
        while depth <= nameLabels {
            let labelIndex = nameLabels - depth
            guard let nodeIndex = zone.nodeIndex(scratch.suffix(labelIndex)) else { break }
            encloserLabel = labelIndex
            if storage.nodes[nodeIndex].isDelegation && !(labelIndex == 0 && qtype == .ds) {
                referral(zone: zoneIndex, cut: nodeIndex, scratch: scratch, into: &result)
                return nil
            }
            if labelIndex == 0 { found = nodeIndex }
            depth += 1
        }
        if nameLabels == apexLabels { found = zone.nodeIndex(scratch.suffix(0)) }

        var nodeIndex: Int
        if let found {
            nodeIndex = found
        } else {
            // RFC 4592 section 4.1: the source of synthesis is `*.<closest encloser>`.
            let encloser = scratch.suffix(encloserLabel)
            scratch.wildcard[0] = 1
            scratch.wildcard[1] = UInt8(ascii: "*")
            UnsafeMutableRawBufferPointer(rebasing: scratch.wildcard[2..<(2 + encloser.count)]).copyMemory(from: encloser)
            guard let wildcard = zone.nodeIndex(UnsafeRawBufferPointer(rebasing: scratch.wildcard[0..<(2 + encloser.count)])) else {
                result.rcode = .nxDomain
                result.authority.append(RecordRef(zone: z, node: 0, rrset: 0, owner: .own, negativeSOA: true))
                return nil
            }
            nodeIndex = wildcard
        }
        let synthesized = found == nil
        let node = storage.nodes[nodeIndex]
        let n = Int32(nodeIndex)
        // A wildcard answer's owner is the name asked for, never `*.` (RFC 4592 section 3.3.1).
        let ownerForAnswer: OwnerSource = synthesized ? owner : (owner == .question ? .question : .own)

        if node.stable >= 0 {
            return stableStep(node: nodeIndex, zone: zoneIndex, qtype: qtype, owner: ownerForAnswer, draw: draw, into: &result)
        }
        if qtype == .any {
            if node.rrsetCount == 0 { return noData(zone: z, into: &result) }
            for index in storage.rrsetRange(of: nodeIndex) {
                result.answer.append(RecordRef(zone: z, node: n, rrset: Int32(index), owner: ownerForAnswer))
                if !fullAny { break }
            }
            return nil
        }
        if let index = storage.rrsetIndex(node: nodeIndex, type: qtype) {
            result.answer.append(RecordRef(zone: z, node: n, rrset: Int32(index), owner: ownerForAnswer))
            addAdditional(for: index, node: nodeIndex, zone: zoneIndex, type: qtype, scratch: scratch, into: &result)
            return nil
        }
        if let index = storage.rrsetIndex(node: nodeIndex, type: .cname) {
            // A loop: this CNAME is already in the answer.
            if result.answer.contains(where: { $0.zone == z && $0.node == n }) { return nil }
            result.answer.append(RecordRef(zone: z, node: n, rrset: Int32(index), owner: ownerForAnswer))
            return result.answer.count - 1
        }
        return noData(zone: z, into: &result)
    }

    /// A stable name: pick a pool (or take the forced one when precompiling) and answer
    /// with its prepared RRset, its CNAME, or NODATA for a type it does not have.
    private func stableStep(node nodeIndex: Int, zone zoneIndex: Int, qtype: RRType, owner: OwnerSource, draw: Draw,
                            into result: inout Resolution) -> Int? {
        let z = Int32(zoneIndex), n = Int32(nodeIndex)
        let stableIndex = zones[zoneIndex].storage.nodes[nodeIndex].stable
        let set = stable.sets[Int(stableIndex)]
        // Only the first stable name of a chain may take the forced choice.
        let forced = result.draws == 0 ? draw.forced : nil
        result.draws += 1
        guard let choice = forced ?? set.choose(random: draw.random, clientHash: draw.clientHash, kind: .init(qtype)) else {
            // on_all_down: closed, and nothing is healthy.
            result.rcode = .servFail
            result.authoritative = false
            return nil
        }
        if result.stable < 0 { result.stable = stableIndex; result.pool = Int32(choice.pool) }
        let pool = set.pools[choice.pool]
        func answer(_ index: Int32) {
            result.answer.append(RecordRef(zone: z, node: n, rrset: index, owner: owner, stable: true))
        }
        if !pool.cnames.isEmpty {
            let cname = pool.cnames[choice.variant % pool.cnames.count]
            if qtype == .cname || qtype == .any { answer(cname); return nil }
            if result.answer.contains(where: { $0.zone == z && $0.node == n }) { return nil }
            answer(cname)
            return result.answer.count - 1
        }
        switch qtype {
        case .a where !pool.a.isEmpty: answer(pool.a[choice.variant])
        case .aaaa where !pool.aaaa.isEmpty: answer(pool.aaaa[choice.variant])
        case .any where !pool.a.isEmpty: answer(pool.a[choice.variant])
        case .any where !pool.aaaa.isEmpty: answer(pool.aaaa[choice.variant])
        default: return noData(zone: z, into: &result)
        }
        return nil
    }

    private func noData(zone: Int32, into result: inout Resolution) -> Int? {
        result.authority.append(RecordRef(zone: zone, node: 0, rrset: 0, owner: .own, negativeSOA: true))
        return nil
    }

    /// RFC 1034 section 4.3.2 step 3b: not authoritative; NS of the cut in authority and
    /// the addresses of its name servers in additional.
    private func referral(zone zoneIndex: Int, cut: Int, scratch: LookupScratch, into result: inout Resolution) {
        let storage = zones[zoneIndex].storage
        guard let nsIndex = storage.rrsetIndex(node: cut, type: .ns) else { return }
        if result.answer.isEmpty { result.authoritative = false }
        result.authority.append(RecordRef(zone: Int32(zoneIndex), node: Int32(cut), rrset: Int32(nsIndex), owner: .own))
        storage.names.withKey(cut) { cutName in
            storage.withRRSet(at: nsIndex, node: cut) { set in
                _ = set.forEachRData { rdata in
                    if let target = RRSetBytes.target(in: rdata, type: .ns) {
                        addAddresses(of: target, zone: zoneIndex, below: cutName, scratch: scratch, into: &result)
                    }
                    return true
                }
            }
        }
    }

    /// Addresses of the names that NS, MX and SRV answers point at, when this zone has them.
    private func addAdditional(for index: Int, node: Int, zone: Int, type: RRType, scratch: LookupScratch, into result: inout Resolution) {
        guard type == .ns || type == .mx || type == .srv else { return }
        zones[zone].storage.withRRSet(at: index, node: node) { set in
            _ = set.forEachRData { rdata in
                if let target = RRSetBytes.target(in: rdata, type: type) {
                    addAddresses(of: target, zone: zone, below: nil, scratch: scratch, into: &result)
                }
                return true
            }
        }
    }

    /// `name` is a target as stored (original case). `below`: the cut of a referral, whose
    /// glue inside it is required (RFC 9471).
    private func addAddresses(of name: UnsafeRawBufferPointer, zone zoneIndex: Int, below cut: UnsafeRawBufferPointer?,
                              scratch: LookupScratch, into result: inout Resolution) {
        let zone = zones[zoneIndex]
        let key = scratch.lowercasedTarget(name)
        let inside = zone.origin.key.withUnsafeBytes { DomainName.isSubdomain(key, of: $0) }
        guard inside, let nodeIndex = zone.storage.names.find(key) else { return }
        let required = cut.map { DomainName.isSubdomain(key, of: $0) } ?? false
        let n = Int32(nodeIndex), z = Int32(zoneIndex)
        if result.additional.contains(where: { $0.zone == z && $0.node == n }) { return }
        if let index = zone.storage.rrsetIndex(node: nodeIndex, type: .a) {
            result.additional.append(RecordRef(zone: z, node: n, rrset: Int32(index), owner: .own, required: required))
        }
        if let index = zone.storage.rrsetIndex(node: nodeIndex, type: .aaaa) {
            result.additional.append(RecordRef(zone: z, node: n, rrset: Int32(index), owner: .own, required: required))
        }
    }
}


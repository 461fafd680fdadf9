/// The etcd cluster `zonal up` runs itself for `coordinator: {backend: etcd, local_cluster: true}`:
/// one member per zone (the first node of each of up to three zones), so the real consensus
/// engine, and the loss of one of its members, can be exercised on one machine.
public enum LocalEtcdCluster {
    /// The name of the service the members run as.
    public static let serviceName = "etcd"

    /// The member nodes: the first node of each zone, in declaration order, at most three.
    public static func memberNodes(of topology: Topology) -> [Topology.Node] {
        var members: [Topology.Node] = []
        for zone in topology.zoneNames {
            guard members.count < 3, let node = topology.nodes.first(where: { $0.zone == zone }) else { continue }
            members.append(node)
        }
        return members
    }

    /// The topology with the members added as a service and the endpoints pointing at them.
    public static func expand(_ topology: Topology) -> Topology {
        let members = memberNodes(of: topology)
        guard !members.isEmpty else { return topology }
        let url = { (node: Topology.Node, port: Int) in "http://\(IPAddressText.hostPort(node.address, port))" }
        let cluster = members.map { "\($0.name)=\(url($0, 2380))" }.joined(separator: ",")
        let command = [
            "etcd", "--name", "{node}", "--data-dir", "{state_dir}/etcd/{node}",
            "--listen-client-urls", "http://{address}:{port}", "--advertise-client-urls", "http://{address}:{port}",
            "--listen-peer-urls", "http://{address}:{admin_port}", "--initial-advertise-peer-urls", "http://{address}:{admin_port}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "zonal-\(topology.name)",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ]
        var expanded = topology
        expanded.services.insert(
            Topology.Service(
                name: serviceName, kind: .process(command: command), nodes: members.map(\.name), port: 2379, adminPort: 2380,
                health: HealthCheckSpec(probe: .http(path: "/health", port: nil, expectedStatus: 200, bodyContains: "true"))
            ), at: 0)
        expanded.coordinator.endpoints = members.map { url($0, 2379) }
        return expanded
    }
}

import ArgumentParser

@main
struct Zonal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zonal",
        abstract: "Self-hosted multi-zone high availability and disaster recovery.",
        subcommands: [
            UpCommand.self, StatusCommand.self, FailCommand.self, RecoverCommand.self, EventsCommand.self,
            ValidateCommand.self, AppCommand.self, BalancerCommand.self, BackupCommand.self, DatabaseCommand.self, DNSCommand.self, CacheCommand.self,
            ObjectsCommand.self,
            CoordinatorCommand.self, GuardCommand.self,
        ]
    )
}

#if canImport(Glibc)
import CZonalSystem
import Foundation
import Glibc

/// Children started by the supervisor call this first, so that they die with it even when it
/// is killed with SIGKILL and cannot stop them itself: no orphans, whatever happens.
public enum ParentDeathSignal {
    /// The variable the supervisor sets to its own PID in every child's environment.
    public static let environmentKey = "ZONAL_SUPERVISOR_PID"

    /// Arranges SIGKILL on the supervisor's death; exits at once if it is already gone.
    public static func armIfSupervised() {
        guard let text = ProcessInfo.processInfo.environment[environmentKey], let supervisor = pid_t(text) else { return }
        _ = czonal_set_parent_death_signal(SIGKILL)
        // The supervisor may have died between fork and prctl; then we were re-parented.
        if getppid() != supervisor { exit(1) }
    }
}
#endif

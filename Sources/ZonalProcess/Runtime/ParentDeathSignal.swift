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
            if !arm(SIGKILL, parent: supervisor) { exit(1) }
        }

        /// Asks for `signal` when the parent dies; false when `parent` is already gone (we were
        /// re-parented between fork and now). The kernel forgets the request when the process later
        /// execs under other credentials, so it only holds for processes that do not exec.
        public static func arm(_ signal: Int32, parent: pid_t) -> Bool {
            _ = czonal_set_parent_death_signal(signal)
            return getppid() == parent
        }
    }
#endif

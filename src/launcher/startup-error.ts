// A startup problem the operator can fix (a busy port, a missing token): printed as one line.
export class StartupError extends Error {}

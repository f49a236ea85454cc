/** A refusal the user can act on; its message is shown as it is (and is not logged as a failure). */
export class UserError extends Error {}

/** Folders of the data folder: the owner's alone (DESIGN §4). */
export const PRIVATE_DIR_MODE = 0o700;
/** Files of the data folder: the owner's alone. */
export const PRIVATE_FILE_MODE = 0o600;

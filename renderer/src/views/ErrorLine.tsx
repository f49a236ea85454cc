/** A failure in the core's own words, announced to screen readers. */
export function ErrorLine({ message }: { message: string | undefined }) {
  return message ?
      <p className="error" role="alert">
        {message}
      </p>
    : null;
}

/** Types of scripts/check-links.mjs (the docs site's link check). */
export interface BrokenLink {
  readonly page: string;
  readonly link: string;
  readonly why: string;
}
export interface LinkCheck {
  readonly pages: number;
  readonly links: number;
  readonly external: string[];
  readonly broken: BrokenLink[];
}
/** Checks every relative link and anchor of the built site in `siteDir`; throws if it is not built. */
export function checkLinks(siteDir: string): LinkCheck;

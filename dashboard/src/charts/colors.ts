/** One colour per platform in every chart, and a percentage as the dashboard writes it. */
export const PLATFORM_COLOR: Record<string, string> = {
  facebook: "#1877f2",
  instagram: "#c13584",
  twitter: "#1d2330",
  linkedin: "#0a66c2",
  youtube: "#e62117",
  tiktok: "#25a6a0",
};

export const colorOf = (platform: string) => PLATFORM_COLOR[platform] ?? "#5b6270";

export function percent(rate: number | null | undefined, digits = 1): string {
  return rate == null ? "–" : `${(rate * 100).toFixed(digits)}%`;
}

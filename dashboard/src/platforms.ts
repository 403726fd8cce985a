export const PLATFORMS = ["facebook", "instagram", "twitter", "linkedin", "youtube", "tiktok"] as const;

export const PLATFORM_LABEL: Record<string, string> = {
  facebook: "Facebook",
  instagram: "Instagram",
  twitter: "X",
  linkedin: "LinkedIn",
  youtube: "YouTube",
  tiktok: "TikTok",
};

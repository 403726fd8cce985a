"""The local fakes: the social platforms' and the CRM and analytics vendors' APIs on local servers,
so the real clients run end to end without the internet.

    base          the HTTP server under every fake and the local API gateway: requests, replies,
                  fault hooks
    platforms     the fake platform server (`python -m infra.local.fakes.platforms`), composing:
      state         channels, the fault spec, the store of accounts, tokens and posts
      profiles      each platform's error bodies and throttles; publishing through the faults
      graph         what Facebook, Instagram and WhatsApp share as Graph API nodes
      facebook, instagram, x, linkedin, youtube, tiktok, whatsapp   one module per platform
      oauth         the token endpoints (refresh_token grant) and expired access tokens
      metrics       published posts' metrics: the seeded growth curve and the /_metrics control
    vendors       the fake vendor server (`python -m infra.local.fakes.vendors`), composing:
      vendor_state  credentials, contacts, report data, pending faults; the path of a vendor call
      hubspot, followupboss, salesforce, customcrm, ga4   one module per vendor
"""

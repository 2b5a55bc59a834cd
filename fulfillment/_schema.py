# GENERATED FILE, DO NOT EDIT. Written by tools/gen_schema.py from the protobuf descriptors of
# google.cloud.dialogflow.cx.v3.WebhookRequest (package google-cloud-dialogflow-cx).
# Regenerate from the repository root with:
#     python -m tools.gen_schema
# tests/test_validate.py regenerates it in memory and fails if this file is stale.
"""Field tables of the CX v3 WebhookRequest, read by ``fulfillment._validate``.

A message is a dict from every key its JSON form may use to a field spec. The keys are the
JSON (lowerCamelCase) names plus the proto (snake_case) names the proto parser also accepts.
A field spec is a tuple ``(kind, sub, oneof, rename_to)``:

* ``kind``: ``"string"``, ``"bytes"``, ``"bool"``, ``"float"`` (32-bit), ``"double"``,
  ``"enum"``, ``"message"``, ``"struct"`` (google.protobuf.Struct), ``"value"``
  (google.protobuf.Value), ``"repeated"`` or ``"map"`` (string keys);
* ``sub``: for ``message`` the nested message dict; for ``enum`` a tuple
  ``(number by name, name by number, closed)``; for ``repeated`` and ``map`` the
  ``(kind, sub)`` of one element or map value; otherwise ``None``;
* ``oneof``: the name of the oneof the field belongs to, or ``None``;
* ``rename_to``: ``None`` for the JSON name; for a proto-name alias, the JSON name to use.
"""

# enum google.cloud.dialogflow.cx.v3.PageInfo.FormInfo.ParameterInfo.ParameterState
PAGE_INFO_FORM_INFO_PARAMETER_INFO_PARAMETER_STATE = (
    {"PARAMETER_STATE_UNSPECIFIED": 0, "EMPTY": 1, "INVALID": 2, "FILLED": 3},
    {0: "PARAMETER_STATE_UNSPECIFIED", 1: "EMPTY", 2: "INVALID", 3: "FILLED"},
    False,
)

# enum google.cloud.dialogflow.cx.v3.ResponseMessage.ResponseType
RESPONSE_MESSAGE_RESPONSE_TYPE = (
    {"RESPONSE_TYPE_UNSPECIFIED": 0, "ENTRY_PROMPT": 1, "PARAMETER_PROMPT": 2, "HANDLER_PROMPT": 3},
    {0: "RESPONSE_TYPE_UNSPECIFIED", 1: "ENTRY_PROMPT", 2: "PARAMETER_PROMPT", 3: "HANDLER_PROMPT"},
    False,
)

# message google.cloud.dialogflow.cx.v3.WebhookRequest.FulfillmentInfo
WEBHOOK_REQUEST_FULFILLMENT_INFO = {
    "tag": ("string", None, None, None),
}

# message google.cloud.dialogflow.cx.v3.WebhookRequest.IntentInfo.IntentParameterValue
WEBHOOK_REQUEST_INTENT_INFO_INTENT_PARAMETER_VALUE = {
    "originalValue": ("string", None, None, None),
    "resolvedValue": ("value", None, None, None),
    "original_value": ("string", None, None, "originalValue"),
    "resolved_value": ("value", None, None, "resolvedValue"),
}

# message google.cloud.dialogflow.cx.v3.WebhookRequest.IntentInfo
WEBHOOK_REQUEST_INTENT_INFO = {
    "lastMatchedIntent": ("string", None, None, None),
    "displayName": ("string", None, None, None),
    "parameters": ("map", ("message", WEBHOOK_REQUEST_INTENT_INFO_INTENT_PARAMETER_VALUE), None, None),
    "confidence": ("float", None, None, None),
    "last_matched_intent": ("string", None, None, "lastMatchedIntent"),
    "display_name": ("string", None, None, "displayName"),
}

# message google.cloud.dialogflow.cx.v3.PageInfo.FormInfo.ParameterInfo
PAGE_INFO_FORM_INFO_PARAMETER_INFO = {
    "displayName": ("string", None, None, None),
    "required": ("bool", None, None, None),
    "state": ("enum", PAGE_INFO_FORM_INFO_PARAMETER_INFO_PARAMETER_STATE, None, None),
    "value": ("value", None, None, None),
    "justCollected": ("bool", None, None, None),
    "display_name": ("string", None, None, "displayName"),
    "just_collected": ("bool", None, None, "justCollected"),
}

# message google.cloud.dialogflow.cx.v3.PageInfo.FormInfo
PAGE_INFO_FORM_INFO = {
    "parameterInfo": ("repeated", ("message", PAGE_INFO_FORM_INFO_PARAMETER_INFO), None, None),
    "parameter_info": ("repeated", ("message", PAGE_INFO_FORM_INFO_PARAMETER_INFO), None, "parameterInfo"),
}

# message google.cloud.dialogflow.cx.v3.PageInfo
PAGE_INFO = {
    "currentPage": ("string", None, None, None),
    "displayName": ("string", None, None, None),
    "formInfo": ("message", PAGE_INFO_FORM_INFO, None, None),
    "current_page": ("string", None, None, "currentPage"),
    "display_name": ("string", None, None, "displayName"),
    "form_info": ("message", PAGE_INFO_FORM_INFO, None, "formInfo"),
}

# message google.cloud.dialogflow.cx.v3.SessionInfo
SESSION_INFO = {
    "session": ("string", None, None, None),
    "parameters": ("map", ("value", None), None, None),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.Text
RESPONSE_MESSAGE_TEXT = {
    "text": ("repeated", ("string", None), None, None),
    "allowPlaybackInterruption": ("bool", None, None, None),
    "allow_playback_interruption": ("bool", None, None, "allowPlaybackInterruption"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.ConversationSuccess
RESPONSE_MESSAGE_CONVERSATION_SUCCESS = {
    "metadata": ("struct", None, None, None),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.OutputAudioText
RESPONSE_MESSAGE_OUTPUT_AUDIO_TEXT = {
    "text": ("string", None, "source", None),
    "ssml": ("string", None, "source", None),
    "allowPlaybackInterruption": ("bool", None, None, None),
    "allow_playback_interruption": ("bool", None, None, "allowPlaybackInterruption"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.LiveAgentHandoff
RESPONSE_MESSAGE_LIVE_AGENT_HANDOFF = {
    "metadata": ("struct", None, None, None),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.EndInteraction
RESPONSE_MESSAGE_END_INTERACTION = {}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.PlayAudio
RESPONSE_MESSAGE_PLAY_AUDIO = {
    "audioUri": ("string", None, None, None),
    "allowPlaybackInterruption": ("bool", None, None, None),
    "audio_uri": ("string", None, None, "audioUri"),
    "allow_playback_interruption": ("bool", None, None, "allowPlaybackInterruption"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.MixedAudio.Segment
RESPONSE_MESSAGE_MIXED_AUDIO_SEGMENT = {
    "audio": ("bytes", None, "content", None),
    "uri": ("string", None, "content", None),
    "allowPlaybackInterruption": ("bool", None, None, None),
    "allow_playback_interruption": ("bool", None, None, "allowPlaybackInterruption"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.MixedAudio
RESPONSE_MESSAGE_MIXED_AUDIO = {
    "segments": ("repeated", ("message", RESPONSE_MESSAGE_MIXED_AUDIO_SEGMENT), None, None),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.TelephonyTransferCall
RESPONSE_MESSAGE_TELEPHONY_TRANSFER_CALL = {
    "phoneNumber": ("string", None, "endpoint", None),
    "phone_number": ("string", None, "endpoint", "phoneNumber"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage.KnowledgeInfoCard
RESPONSE_MESSAGE_KNOWLEDGE_INFO_CARD = {}

# message google.cloud.dialogflow.cx.v3.ToolCall
TOOL_CALL = {
    "tool": ("string", None, None, None),
    "action": ("string", None, None, None),
    "inputParameters": ("struct", None, None, None),
    "input_parameters": ("struct", None, None, "inputParameters"),
}

# message google.cloud.dialogflow.cx.v3.ResponseMessage
RESPONSE_MESSAGE = {
    "text": ("message", RESPONSE_MESSAGE_TEXT, "message", None),
    "payload": ("struct", None, "message", None),
    "conversationSuccess": ("message", RESPONSE_MESSAGE_CONVERSATION_SUCCESS, "message", None),
    "outputAudioText": ("message", RESPONSE_MESSAGE_OUTPUT_AUDIO_TEXT, "message", None),
    "liveAgentHandoff": ("message", RESPONSE_MESSAGE_LIVE_AGENT_HANDOFF, "message", None),
    "endInteraction": ("message", RESPONSE_MESSAGE_END_INTERACTION, "message", None),
    "playAudio": ("message", RESPONSE_MESSAGE_PLAY_AUDIO, "message", None),
    "mixedAudio": ("message", RESPONSE_MESSAGE_MIXED_AUDIO, "message", None),
    "telephonyTransferCall": ("message", RESPONSE_MESSAGE_TELEPHONY_TRANSFER_CALL, "message", None),
    "knowledgeInfoCard": ("message", RESPONSE_MESSAGE_KNOWLEDGE_INFO_CARD, "message", None),
    "toolCall": ("message", TOOL_CALL, "message", None),
    "responseType": ("enum", RESPONSE_MESSAGE_RESPONSE_TYPE, None, None),
    "channel": ("string", None, None, None),
    "conversation_success": (
        "message",
        RESPONSE_MESSAGE_CONVERSATION_SUCCESS,
        "message",
        "conversationSuccess",
    ),
    "output_audio_text": ("message", RESPONSE_MESSAGE_OUTPUT_AUDIO_TEXT, "message", "outputAudioText"),
    "live_agent_handoff": ("message", RESPONSE_MESSAGE_LIVE_AGENT_HANDOFF, "message", "liveAgentHandoff"),
    "end_interaction": ("message", RESPONSE_MESSAGE_END_INTERACTION, "message", "endInteraction"),
    "play_audio": ("message", RESPONSE_MESSAGE_PLAY_AUDIO, "message", "playAudio"),
    "mixed_audio": ("message", RESPONSE_MESSAGE_MIXED_AUDIO, "message", "mixedAudio"),
    "telephony_transfer_call": (
        "message",
        RESPONSE_MESSAGE_TELEPHONY_TRANSFER_CALL,
        "message",
        "telephonyTransferCall",
    ),
    "knowledge_info_card": ("message", RESPONSE_MESSAGE_KNOWLEDGE_INFO_CARD, "message", "knowledgeInfoCard"),
    "tool_call": ("message", TOOL_CALL, "message", "toolCall"),
    "response_type": ("enum", RESPONSE_MESSAGE_RESPONSE_TYPE, None, "responseType"),
}

# message google.cloud.dialogflow.cx.v3.WebhookRequest.SentimentAnalysisResult
WEBHOOK_REQUEST_SENTIMENT_ANALYSIS_RESULT = {
    "score": ("float", None, None, None),
    "magnitude": ("float", None, None, None),
}

# message google.cloud.dialogflow.cx.v3.LanguageInfo
LANGUAGE_INFO = {
    "inputLanguageCode": ("string", None, None, None),
    "resolvedLanguageCode": ("string", None, None, None),
    "confidenceScore": ("float", None, None, None),
    "input_language_code": ("string", None, None, "inputLanguageCode"),
    "resolved_language_code": ("string", None, None, "resolvedLanguageCode"),
    "confidence_score": ("float", None, None, "confidenceScore"),
}

# message google.cloud.dialogflow.cx.v3.WebhookRequest
WEBHOOK_REQUEST = {
    "detectIntentResponseId": ("string", None, None, None),
    "text": ("string", None, "query", None),
    "triggerIntent": ("string", None, "query", None),
    "transcript": ("string", None, "query", None),
    "triggerEvent": ("string", None, "query", None),
    "dtmfDigits": ("string", None, "query", None),
    "languageCode": ("string", None, None, None),
    "fulfillmentInfo": ("message", WEBHOOK_REQUEST_FULFILLMENT_INFO, None, None),
    "intentInfo": ("message", WEBHOOK_REQUEST_INTENT_INFO, None, None),
    "pageInfo": ("message", PAGE_INFO, None, None),
    "sessionInfo": ("message", SESSION_INFO, None, None),
    "messages": ("repeated", ("message", RESPONSE_MESSAGE), None, None),
    "payload": ("struct", None, None, None),
    "sentimentAnalysisResult": ("message", WEBHOOK_REQUEST_SENTIMENT_ANALYSIS_RESULT, None, None),
    "languageInfo": ("message", LANGUAGE_INFO, None, None),
    "detect_intent_response_id": ("string", None, None, "detectIntentResponseId"),
    "trigger_intent": ("string", None, "query", "triggerIntent"),
    "trigger_event": ("string", None, "query", "triggerEvent"),
    "dtmf_digits": ("string", None, "query", "dtmfDigits"),
    "language_code": ("string", None, None, "languageCode"),
    "fulfillment_info": ("message", WEBHOOK_REQUEST_FULFILLMENT_INFO, None, "fulfillmentInfo"),
    "intent_info": ("message", WEBHOOK_REQUEST_INTENT_INFO, None, "intentInfo"),
    "page_info": ("message", PAGE_INFO, None, "pageInfo"),
    "session_info": ("message", SESSION_INFO, None, "sessionInfo"),
    "sentiment_analysis_result": (
        "message",
        WEBHOOK_REQUEST_SENTIMENT_ANALYSIS_RESULT,
        None,
        "sentimentAnalysisResult",
    ),
    "language_info": ("message", LANGUAGE_INFO, None, "languageInfo"),
}

ROOT = WEBHOOK_REQUEST

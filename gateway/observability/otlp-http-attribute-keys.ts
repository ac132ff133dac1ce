// The attribute keys of the gateway's HTTP spans (OpenTelemetry's HTTP semantic conventions), each encoded once
// as OTLP protobuf writes a KeyValue's key (otlp-attribute-writer.ts): the spans write them by copying bytes.
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "@opentelemetry/semantic-conventions";
import { attributeKey } from "./otlp-attribute-writer.ts";

export const CLIENT_ADDRESS = attributeKey(ATTR_CLIENT_ADDRESS);
export const ERROR_TYPE = attributeKey(ATTR_ERROR_TYPE);
export const HTTP_REQUEST_METHOD = attributeKey(ATTR_HTTP_REQUEST_METHOD);
export const HTTP_REQUEST_METHOD_ORIGINAL = attributeKey(ATTR_HTTP_REQUEST_METHOD_ORIGINAL);
export const HTTP_REQUEST_RESEND_COUNT = attributeKey(ATTR_HTTP_REQUEST_RESEND_COUNT);
export const HTTP_RESPONSE_STATUS_CODE = attributeKey(ATTR_HTTP_RESPONSE_STATUS_CODE);
export const HTTP_ROUTE = attributeKey(ATTR_HTTP_ROUTE);
export const NETWORK_PROTOCOL_VERSION = attributeKey(ATTR_NETWORK_PROTOCOL_VERSION);
export const SERVER_ADDRESS = attributeKey(ATTR_SERVER_ADDRESS);
export const SERVER_PORT = attributeKey(ATTR_SERVER_PORT);
export const URL_FULL = attributeKey(ATTR_URL_FULL);
export const URL_PATH = attributeKey(ATTR_URL_PATH);
export const URL_QUERY = attributeKey(ATTR_URL_QUERY);
export const URL_SCHEME = attributeKey(ATTR_URL_SCHEME);
export const USER_AGENT_ORIGINAL = attributeKey(ATTR_USER_AGENT_ORIGINAL);

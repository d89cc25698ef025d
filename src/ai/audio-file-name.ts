import { AppError } from '../app-error.ts';

/** Formats OpenAI's transcription endpoint takes, by content type, as the file extension it reads them from. */
const EXTENSIONS: Record<string, string> = {
  'audio/ogg': 'ogg',
  'audio/opus': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/mp4': 'm4a',
  'audio/m4a': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/aac': 'm4a',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/webm': 'webm',
  'audio/flac': 'flac',
};

/**
 * "voice.ogg" for "audio/ogg; codecs=opus". A format the endpoint does not take (AMR, which some phones
 * send by MMS) fails as 'audio_unsupported', not retryable.
 */
export function audioFileName(contentType: string): string {
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  const extension = EXTENSIONS[base];
  if (!extension) throw new AppError(`audio format ${base || '(none)'} cannot be transcribed`, { code: 'audio_unsupported' });
  return `voice.${extension}`;
}

import { PDFDocument, StandardFonts } from 'pdf-lib';

/** A real PDF with a text layer: one page per array of lines, and the Title in its metadata when given. */
export async function makePdf(pages: string[][], options: { title?: string } = {}): Promise<Uint8Array> {
  const document = await PDFDocument.create();
  if (options.title) document.setTitle(options.title);
  const font = await document.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = document.addPage();
    lines.forEach((line, index) => page.drawText(line, { x: 50, y: 750 - index * 20, size: 12, font }));
  }
  return document.save();
}
